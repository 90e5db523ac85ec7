"""The admin's "View on site" redirect (/admin/r/<content type>/<id>/), answering 404 for an
object whose get_absolute_url names a page this project does not serve.

Django's own view lets the NoReverseMatch through as a 500. The admin hides the link for such
models (support_admin.oauth_clients), but a bookmarked or typed address still reaches the
view; mounted before the admin's own pattern, this one takes the path."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.contenttypes.views import shortcut
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, URLPattern, path


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    try:
        return shortcut(request, content_type_id, object_id)
    except NoReverseMatch:
        raise Http404("This object has no page on this site.") from None


urlpatterns: list[URLPattern] = [
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
    ),
]
