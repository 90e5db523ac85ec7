"""The soak run's judgement on synthetic runs: it must catch a lost acknowledged write, a row
nobody acknowledged, a 5xx no fault excuses, and must not blame what a fault explains."""

import pytest

from bench.soak.faults import schedule
from bench.soak.verdict import ABSENT, Call, Expected, Window, judge_calls, judge_state

CUT = Window("database", 40.0, 50.0)
KILL = Window("web_worker", 70.0, 71.0)
REDIS = Window("redis", 10.0, 20.0)


def user(id_: str, *states: tuple) -> Expected:
    return Expected("acme", "User", id_, f"{id_}@example.com", list(states))


def test_every_acknowledged_state_found_is_a_clean_verdict() -> None:
    expected = [user("u1", ("present", False, "Engineer")), user("u2", ABSENT)]
    actual = {("acme", "User", "u1"): ("present", False, "Engineer")}

    verdict = judge_state(expected, actual, set(), {})

    assert verdict.ok
    assert verdict.counts["expected_present"] == verdict.counts["present_tracked"] == 1


def test_a_lost_acknowledged_write_and_a_deleted_user_still_present_are_failures() -> None:
    expected = [user("u1", ("present", False, "")), user("u2", ABSENT)]
    actual = {
        ("acme", "User", "u1"): ("present", True, ""),  # the acknowledged deactivation is lost
        ("acme", "User", "u2"): ("present", True, ""),  # the acknowledged DELETE is lost
    }

    verdict = judge_state(expected, actual, set(), {})

    assert verdict.counts["wrong_state"] == 2
    assert len(verdict.failures) == 2
    assert all(line.startswith("acknowledged write lost") for line in verdict.failures)


def test_an_unacknowledged_write_may_have_committed_but_counts_as_kept() -> None:
    item = user("u1", ("present", True, ""))
    item.in_doubt(("present", False, ""))  # a PATCH whose answer was lost
    actual = {("acme", "User", "u1"): ("present", False, "")}

    verdict = judge_state([item], actual, set(), {})

    assert verdict.ok
    assert verdict.counts["unacknowledged_write_kept"] == 1


def test_rows_no_client_was_told_about_are_failures_unless_their_create_is_unresolved() -> None:
    actual = {
        ("acme", "User", "x1"): ("present", True, ""),
        ("acme", "User", "x2"): ("present", True, ""),
    }
    names = {
        ("acme", "User", "x1"): "ghost@example.com",
        ("acme", "User", "x2"): "lost@example.com",
    }

    verdict = judge_state([], actual, {"lost@example.com"}, names)

    assert verdict.counts["untracked_present"] == 1
    assert verdict.failures == ["present but never acknowledged: User ghost@example.com (acme)"]


def test_only_a_database_cut_excuses_a_503_and_nothing_excuses_a_500() -> None:
    calls = [
        Call(42.0, 42.1, "POST", "okta POST /Users", 503),  # during the cut
        Call(53.0, 53.2, "GET", "okta GET /Users/id", 503),  # within the grace period
        Call(15.0, 15.1, "PATCH", "entra PATCH active", 503),  # Redis down: not excused
        Call(45.0, 45.1, "PUT", "okta PUT /Users/id", 500),  # never excused
        Call(80.0, 80.1, "GET", "okta GET /Users/id", 200),
    ]

    verdict = judge_calls(calls, [REDIS, CUT, KILL], grace=5)

    assert verdict.counts["other_5xx"] == 1
    assert verdict.counts["unexcused_5xx"] == 2
    assert verdict.counts["writes_sent"] == 3 and verdict.counts["writes_acknowledged"] == 0
    assert verdict.failures == [
        "1 x 500 to PUT (okta PUT /Users/id) outside any fault",
        "1 x 503 to PATCH (entra PATCH active) outside any fault",
    ]


def test_a_dropped_request_is_excused_only_while_a_web_worker_is_killed() -> None:
    calls = [
        Call(69.5, 70.2, "PATCH", "okta PATCH active", 0),  # in flight on the killed worker
        Call(30.0, 40.0, "GET", "okta GET /Users/id", 0),  # hung, no fault
    ]

    verdict = judge_calls(calls, [CUT, KILL], grace=5)

    assert verdict.counts["unexcused_no_answer"] == 1
    assert verdict.failures == ["1 x no answer to GET (okta GET /Users/id) outside any fault"]


def test_the_schedule_scales_with_floors_and_refuses_runs_too_short() -> None:
    full = schedule(30)
    short = schedule(2)

    assert [(f.name, f.at, f.seconds) for f in full] == [
        ("redis", 300, 60),
        ("database", 720, 30),
        ("web_worker", 1080, 0),
        ("celery_worker", 1320, 30),
    ]
    assert [(f.at, f.seconds) for f in short] == [(20, 10), (48, 5), (72, 0), (88, 5)]
    assert short[-1].at + short[-1].seconds < 2 * 60
    with pytest.raises(ValueError, match="too short"):
        schedule(0.5)
