from __future__ import annotations

from django.db import models


class BareUser(models.Model):
    """A copy of a benchmark company's members: id, userName and the stored resource."""

    id = models.UUIDField(primary_key=True)
    user_name = models.CharField(max_length=255)
    attributes = models.JSONField()

    class Meta:
        managed = False  # created and filled by bench/bare/seed.py
        db_table = "bare_user"

    def __str__(self) -> str:
        return self.user_name
