"""django-scim2's group filter with displayName mapped (the library's default maps nothing)."""

from __future__ import annotations

from django_scim.filters import GroupFilterQuery as DefaultGroupFilterQuery


class GroupFilterQuery(DefaultGroupFilterQuery):
    # (attribute, sub-attribute, schema URI) -> column, the shape of the library's own
    # UserFilterQuery.attr_map.
    attr_map = {("displayName", None, None): "name"}
