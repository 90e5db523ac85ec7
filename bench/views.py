"""Ceiling endpoints for the benchmark (bench/), routed only when BENCH_ENDPOINTS is on: an
empty DRF view, and a view doing one indexed lookup and serializing one user. The benchmark
reports every workload as a share of these, measured on the same server in the same run.
A third, authenticated empty view, shows the fixed cost of authentication and rate limits."""

from __future__ import annotations

from django.db.models.functions import Lower
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from directory.models import Member
from directory.selectors import folded
from scim.media import ScimContentNegotiation, ScimJSONRenderer
from scim.views_base import ScimView


class _BenchView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    renderer_classes = [ScimJSONRenderer]
    content_negotiation_class = ScimContentNegotiation


class EmptyView(_BenchView):
    def get(self, request: Request) -> Response:
        return Response({})


class LookupView(_BenchView):
    def get(self, request: Request) -> Response:
        user_name = request.query_params.get("userName", "")
        member = Member.objects.alias(ci=Lower("user_name")).filter(ci=folded(user_name)).first()
        if member is None:
            return Response({}, status=404)
        return Response({"id": str(member.id), **member.attributes})


class AuthenticatedEmptyView(ScimView):
    """What every real SCIM endpoint pays before its own work: the credential lookup, the
    rate limits (one Redis round trip), the SCIM switch. Not part of the issue's ceilings;
    measured to show how much of a workload's cost is that fixed part."""

    def get(self, request: Request) -> Response:
        return Response({})
