"""The benchmark's ceiling endpoints exist only where the bench app is installed."""

from __future__ import annotations

from django.conf import settings

from tests.scim_client import Scim, assert_error


def test_without_the_bench_app_its_endpoints_are_unknown_scim_endpoints(scim: Scim) -> None:
    assert "bench" not in settings.INSTALLED_APPS

    for path in ("/_bench/empty", "/_bench/lookup", "/_bench/authenticated"):
        assert_error(scim.get(path), 404)
