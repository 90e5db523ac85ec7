from __future__ import annotations

from django.db.models import CharField, Value
from django.db.models.functions import Lower
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.bare.models import BareUser


class EmptyView(APIView):
    def get(self, request: Request) -> Response:
        return Response({})


class LookupView(APIView):
    """Headcount's one-lookup ceiling (bench/views.LookupView) without Headcount around it."""

    def get(self, request: Request) -> Response:
        user_name = Value(request.query_params.get("userName", ""), output_field=CharField())
        # Typed by hand: the type checker reads Headcount's settings, without this app.
        users = BareUser.objects  # type: ignore[attr-defined]
        user: BareUser | None = (
            users.alias(ci=Lower("user_name")).filter(ci=Lower(user_name)).first()
        )
        if user is None:
            return Response({}, status=404)
        return Response({"id": str(user.id), **user.attributes})
