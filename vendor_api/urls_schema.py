"""The URLconf the OpenAPI schema is generated from: the vendor API under /api/v1/, nothing
else of the site (the SCIM API has its own discovery endpoints)."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("vendor_api.urls"))]
