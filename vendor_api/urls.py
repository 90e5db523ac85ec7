"""/api/v1/: the vendor API, its OpenAPI schema and the schema's docs page."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from vendor_api import views
from vendor_api.errors import unknown_path

urlpatterns = [
    path("events", views.EventsView.as_view(), name="vendor_events"),
    path("companies", views.CompaniesView.as_view(), name="vendor_companies"),
    path("companies/<slug:slug>/members", views.MembersView.as_view(), name="vendor_members"),
    path(
        "companies/<slug:slug>/members/<str:member_id>",
        views.MemberView.as_view(),
        name="vendor_member",
    ),
    path("companies/<slug:slug>/groups", views.GroupsView.as_view(), name="vendor_groups"),
    path(
        "companies/<slug:slug>/groups/<str:group_id>",
        views.GroupView.as_view(),
        name="vendor_group",
    ),
    path(
        "schema/",
        SpectacularAPIView.as_view(urlconf="vendor_api.urls_schema"),
        name="vendor_schema",
    ),
    path("docs/", views.DocsView.as_view(url_name="vendor_schema"), name="vendor_docs"),
    re_path(r"", unknown_path),
]
