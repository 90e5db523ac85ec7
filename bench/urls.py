"""The benchmark's ceiling endpoints under a company's `scim/v2/_bench/`, routed only when the
bench app is installed (BENCH_ENDPOINTS=1; config/urls_tenant.py)."""

from django.urls import re_path

from bench import views

urlpatterns = [
    re_path(r"^/_bench/empty$", views.EmptyView.as_view()),
    re_path(r"^/_bench/lookup$", views.LookupView.as_view()),
    re_path(r"^/_bench/authenticated$", views.AuthenticatedEmptyView.as_view()),
]
