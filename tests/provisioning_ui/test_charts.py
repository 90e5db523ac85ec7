"""Server-drawn charts (provisioning_ui/charts.py) and the Activity page that shows them:
the picture matches the numbers, the numbers are also in a table, and screen readers get a
title and a description."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import ProvisioningEvent
from directory.portal_selectors import activity_by_day
from provisioning_ui.charts import PLOT_HEIGHT, Bar, Point, axis_top, bar_chart, line_chart
from tenants.models import Company, SeatUsage
from tests.conftest import TEST_PASSWORD, make_portal_user, max_queries

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 - our own output, no entities


@pytest.mark.parametrize(
    ("largest", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (38, 50), (999, 1000)]
)
def test_the_axis_ends_at_a_round_number_above_the_largest_value(largest: int, top: int) -> None:
    assert axis_top(largest) == top


def test_bar_heights_follow_the_values_and_failures_stack_inside() -> None:
    svg = _parsed(bar_chart("Requests", "Two days.", [Bar("Mar 01", 10, 5), Bar("Mar 02", 5, 0)]))

    bars = [float(r.get("height", "")) for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    alerts = [
        float(r.get("height", "")) for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar-alert"
    ]
    assert bars == [PLOT_HEIGHT, PLOT_HEIGHT / 2] and alerts == [PLOT_HEIGHT / 2, 0]
    assert [t.text for t in svg.iter(f"{SVG}title")][1:] == [
        "Mar 01: 10 requests, 5 failed",
        "Mar 02: 5 requests, 0 failed",
    ]


def test_a_chart_is_a_labelled_image_and_escapes_its_text() -> None:
    svg = _parsed(line_chart("Seats <used>", 'Said "plainly" & briefly.', [Point("a", 1)]))

    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert svg.get("role") == "img"
    assert title is not None and title.text == "Seats <used>"
    assert desc is not None and desc.text == 'Said "plainly" & briefly.'
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_the_seat_line_and_its_limit_are_drawn_point_by_point() -> None:
    svg = _parsed(
        line_chart("Seats", "Three days.", [Point("a", 0, 10), Point("b", 5, 10), Point("c", 10)])
    )

    lines = {p.get("class"): p.get("points", "").split() for p in svg.iter(f"{SVG}polyline")}
    heights = [float(xy.split(",")[1]) for xy in lines["line"]]
    assert heights[0] - heights[1] == pytest.approx(PLOT_HEIGHT / 2, abs=0.2)
    assert heights[1] - heights[2] == pytest.approx(PLOT_HEIGHT / 2, abs=0.2)
    assert len(lines["limit"]) == 2  # the last day has no limit


@pytest.fixture(autouse=True)
def _no_cached_activity() -> None:
    # Finished days' counts are cached per company; each test writes its own ledger.
    cache.clear()


def _event(outcome: str, days_ago: int) -> None:
    event = ProvisioningEvent.objects.create(
        operation="create",
        resource_type="User",
        outcome=outcome,
        status=201 if outcome == "succeeded" else 409,
    )
    ProvisioningEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days_ago)
    )


def test_activity_counts_requests_and_failures_per_day_with_quiet_days_at_zero(
    acme: Company,
) -> None:
    for outcome, days_ago in [("succeeded", 0), ("failed", 0), ("failed", 2), ("succeeded", 40)]:
        _event(outcome, days_ago)

    days = activity_by_day(30)

    assert len(days) == 30 and days[-1].day == timezone.now().astimezone(dt.UTC).date()
    assert [(d.requests, d.failures) for d in days[-3:]] == [(1, 1), (0, 0), (2, 1)]
    assert sum(d.requests for d in days) == 3  # the 40-day-old one is outside


def test_activity_page_draws_both_charts_with_their_tables(acme: Company) -> None:
    _event("failed", 1)
    with schema_context("public"):
        for used in (30, 38):
            SeatUsage.objects.create(company=acme, seats_used=used, seat_limit=38)
    make_portal_user(acme, email="owner@acme.test")
    browser = Client()
    browser.post("/t/acme/login/", {"username": "owner@acme.test", "password": TEST_PASSWORD})

    with max_queries(6):  # session, user, route; ledger by day (finished days, today); seats
        page = browser.get("/t/acme/activity/").content.decode()
    overview = browser.get("/t/acme/").content.decode()

    requests = page.split('id="requests-chart"')[1].split("</section>")[0]
    seats = page.split('id="seats-chart"')[1].split("</section>")[0]
    yesterday = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    today = timezone.now().date().isoformat()
    assert 'role="img"' in requests and "1 write in the provisioning log, 1 failed" in requests
    assert f'<th scope="row">{yesterday}</th><td>1</td><td>1</td>' in requests
    assert (
        'class="limit"' in seats and f'<th scope="row">{today}</th><td>38</td><td>38</td>' in seats
    )
    assert 'href="/t/acme/activity/"' in overview


def test_finished_days_are_counted_once_and_today_every_time(acme: Company) -> None:
    _event("failed", 3)
    activity_by_day(30)
    _event("succeeded", 0)

    with CaptureQueriesContext(connection) as captured:
        days = activity_by_day(30)

    ledger = [q for q in captured.captured_queries if "provisioningevent" in q["sql"]]
    assert len(ledger) == 1  # today's rows only
    assert [(d.requests, d.failures) for d in (days[-4], days[-1])] == [(1, 1), (1, 0)]
