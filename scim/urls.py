"""SCIM 2.0 endpoints, mounted at `/t/<slug>/scim/v2`. No trailing-slash redirects: Okta POSTs
to `/Users` exactly (a trailing slash is tolerated, never required)."""

from django.urls import re_path

from scim import views_discovery as discovery
from scim import views_groups as groups
from scim import views_users as users
from scim.views_base import MeView, RootSearchView, UnknownEndpointView
from scim.views_bulk import BulkView

urlpatterns = [
    re_path(r"^/Users/?$", users.UsersView.as_view(), name="scim-users"),
    re_path(r"^/Users/\.search/?$", users.UsersSearchView.as_view(), name="scim-users-search"),
    re_path(r"^/Users/(?P<member_id>[^/]+)/?$", users.UserView.as_view(), name="scim-user"),
    re_path(r"^/Groups/?$", groups.GroupsView.as_view(), name="scim-groups"),
    re_path(r"^/Groups/\.search/?$", groups.GroupsSearchView.as_view(), name="scim-groups-search"),
    re_path(r"^/Groups/(?P<group_id>[^/]+)/?$", groups.GroupView.as_view(), name="scim-group"),
    re_path(r"^/\.search/?$", RootSearchView.as_view(), name="scim-root-search"),
    re_path(r"^/Bulk/?$", BulkView.as_view(), name="scim-bulk"),
    re_path(r"^/Me(?:/.*)?$", MeView.as_view(), name="scim-me"),
    re_path(
        r"^/ServiceProviderConfig/?$",
        discovery.ServiceProviderConfigView.as_view(),
        name="scim-spc",
    ),
    re_path(r"^/Schemas/?$", discovery.SchemasView.as_view(), name="scim-schemas"),
    re_path(
        r"^/Schemas/(?P<schema_id>[^/]+)/?$", discovery.SchemaView.as_view(), name="scim-schema"
    ),
    re_path(
        r"^/ResourceTypes/?$", discovery.ResourceTypesView.as_view(), name="scim-resource-types"
    ),
    re_path(
        r"^/ResourceTypes/(?P<name>[^/]+)/?$",
        discovery.ResourceTypeView.as_view(),
        name="scim-resource-type",
    ),
]

urlpatterns.append(re_path(r"^(?:/.*)?$", UnknownEndpointView.as_view(), name="scim-unknown"))
