"""User and group models as django-scim2's own test project defines them: its mixins (scim_id,
scim_external_id, scim_username / scim_display_name, each with the index the mixin declares)
on Django's AbstractUser, and a group model whose reverse accessor is `user_set`, which the
default SCIMGroup adapter reads. No index is added beyond what the mixins and Django define."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    name = models.CharField("name", max_length=80, unique=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractSCIMUserMixin, AbstractUser):
    # The default SCIMUser adapter lists a user's groups from `scim_groups`.
    scim_groups = models.ManyToManyField(Group, related_name="user_set", blank=True)
