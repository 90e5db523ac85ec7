"""The vendor API's response shapes, for its OpenAPI schema (drf-spectacular). Views build
plain dicts of these shapes; the serializers only document them."""

from __future__ import annotations

from rest_framework import serializers

from events.outbox import EventType


class ErrorDetailSerializer(serializers.Serializer[object]):
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable: not_authenticated, invalid_parameter, …")
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer[object]):
    error = ErrorDetailSerializer()


class EventSerializer(serializers.Serializer[object]):
    id = serializers.UUIDField(help_text="Unique per event: de-duplicate by it.")
    company = serializers.CharField(help_text="The company's slug.")
    seq = serializers.IntegerField(help_text="Position in the company's own stream: 1, 2, 3 …")
    type = serializers.ChoiceField(choices=EventType.ALL)
    occurredAt = serializers.DateTimeField()
    resourceType = serializers.ChoiceField(choices=["User", "Group", "Company"])
    resourceId = serializers.UUIDField(allow_null=True)
    externalId = serializers.CharField()
    userName = serializers.CharField()
    displayName = serializers.CharField()
    changed = serializers.ListField(
        child=serializers.CharField(), help_text="Attributes an update changed."
    )
    # The event's field; DRF takes declared fields off the class, so .data stays the property.
    data = serializers.JSONField(  # type: ignore[assignment]
        allow_null=True,
        help_text="The resource after the change (SCIM JSON as GET returns it), the membership "
        "({group, user}) or the company change; null for deletions.",
    )
    requestId = serializers.CharField()
    idp = serializers.CharField(help_text="The identity provider's User-Agent.")


class EventPageSerializer(serializers.Serializer[object]):
    events = EventSerializer(many=True)
    next = serializers.CharField(help_text="Pass as `after` to continue; store it to resume.")
    hasMore = serializers.BooleanField()


class CompanySerializer(serializers.Serializer[object]):
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    scimEnabled = serializers.BooleanField()
    seatsUsed = serializers.IntegerField()
    seatLimit = serializers.IntegerField(allow_null=True)


class CompanyPageSerializer(serializers.Serializer[object]):
    companies = CompanySerializer(many=True)
    next = serializers.CharField(
        allow_blank=True, help_text="Pass as `after` to continue; the cursor sent on an empty page."
    )
    hasMore = serializers.BooleanField()


class MemberPageSerializer(serializers.Serializer[object]):
    members = serializers.ListField(
        child=serializers.JSONField(), help_text="SCIM User resources, with `groups` (roles)."
    )
    next = serializers.CharField(
        allow_blank=True, help_text="Pass as `after` to continue; the cursor sent on an empty page."
    )
    hasMore = serializers.BooleanField()


class GroupPageSerializer(serializers.Serializer[object]):
    groups = serializers.ListField(
        child=serializers.JSONField(), help_text="SCIM Group resources, without `members`."
    )
    next = serializers.CharField(
        allow_blank=True, help_text="Pass as `after` to continue; the cursor sent on an empty page."
    )
    hasMore = serializers.BooleanField()


class ResourceSerializer(serializers.Serializer[object]):
    """A SCIM User (with `groups`) or Group (without `members`) resource."""

    id = serializers.UUIDField()
    schemas = serializers.ListField(child=serializers.CharField())
    meta = serializers.JSONField()
