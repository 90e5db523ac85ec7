"""Activity: the last 30 days in pictures (the provisioning log's writes and failures per day,
seat usage), each chart with its numbers in a table."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.portal_selectors import activity_by_day
from provisioning_ui.charts import Bar, Point, bar_chart, line_chart
from tenants.selectors import seat_usage_by_day

DAYS = 30


@require_GET
@login_required
def activity(request: HttpRequest) -> HttpResponse:
    company = request.tenant  # type: ignore[attr-defined]
    days = activity_by_day(DAYS)
    seats = seat_usage_by_day(company, DAYS)
    requests = sum(day.requests for day in days)
    failures = sum(day.failures for day in days)
    requests_chart = bar_chart(
        "Writes and failures per day",
        f"Writes in the provisioning log per day over the last {DAYS} days (UTC): {requests} "
        f"writes, {failures} failed. Failed writes are the lower, darker part of each bar.",
        [Bar(day.day.strftime("%b %d"), day.requests, day.failures) for day in days],
    )
    seats_chart = (
        line_chart(
            "Seats used per day",
            f"The most seats used each day over the last {DAYS} days (UTC), from the hourly "
            f"seat check: {seats[0].seats_used} on {seats[0].day:%b %d}, {seats[-1].seats_used} "
            f"on {seats[-1].day:%b %d}. A dashed line marks the seat limit.",
            [Point(day.day.strftime("%b %d"), day.seats_used, day.seat_limit) for day in seats],
        )
        if seats
        else None
    )
    return render(
        request,
        "portal/activity.html",
        {
            "company": company,
            "days": days,
            "seats": seats,
            "requests_chart": requests_chart,
            "seats_chart": seats_chart,
            "total_requests": requests,
            "total_failures": failures,
            "period": DAYS,
        },
    )
