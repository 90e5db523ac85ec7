"""`make bench ARGS="--peer"` runs each shared workload in rounds alternating the two servers,
so that the machine's drift in speed falls on both alike, and reports the rounds combined
and one by one."""

from typing import Any

import pytest

from bench import interleave, peer_run, run


def test_two_rounds_run_headcount_peer_peer_headcount() -> None:
    assert interleave.order(2) == [(0, "headcount"), (0, "peer"), (1, "peer"), (1, "headcount")]


def test_more_rounds_alternate_which_side_runs_first() -> None:
    sides = [side[0] for _, side in interleave.order(5)]

    assert "".join(sides) == "hpphhpphhp"
    assert [k for k, _ in interleave.order(3)] == [0, 0, 1, 1, 2, 2]
    assert interleave.order(1) == [(0, "headcount"), (0, "peer")]


def test_no_rounds_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one round"):
        interleave.order(0)
    with pytest.raises(SystemExit):
        run.argument_parser().parse_args(["--peer-rounds", "0"])


def test_rounds_combine_as_all_requests_over_all_seconds_and_keep_each_round() -> None:
    rounds = [
        _row(requests=1000, seconds=10.0, p50=4.0, p99=9.0, errors=1, settled=0.5),
        _row(requests=3000, seconds=20.0, p50=6.0, p99=20.0, errors=0, settled=1.25),
    ]

    combined = interleave.combine(rounds)

    assert combined["workload"] == "post"
    assert combined["requests"] == 4000
    assert combined["seconds"] == 30.0
    assert combined["req_per_s"] == 133.3  # not the mean of the rounds' 100 and 150
    assert combined["errors"] == 1
    assert combined["settled_s"] == 1.75
    assert (combined["p50_ms"], combined["p99_ms"]) == (5.0, 14.5)  # the rounds' medians
    assert [r["req_per_s"] for r in combined["rounds"]] == [100.0, 150.0]
    assert [(r["p50_ms"], r["p99_ms"]) for r in combined["rounds"]] == [(4.0, 9.0), (6.0, 20.0)]


def test_cpu_per_request_is_weighted_by_each_rounds_requests() -> None:
    rounds = [
        _row(requests=1000, seconds=10.0, cpu={"app": 2.0, "postgres": 1.0, "idle_share": 0.1}),
        _row(requests=3000, seconds=30.0, cpu={"app": 4.0, "postgres": 1.0, "idle_share": 0.3}),
    ]

    split = interleave.combine(rounds)["cpu_ms"]

    assert split == {"app": 3.5, "postgres": 1.0, "idle_share": 0.25}


def test_ratios_give_the_combined_ratio_and_each_rounds() -> None:
    ours = interleave.combine([_row(1020, 10.0), _row(980, 10.0)])
    peer = interleave.combine([_row(1000, 10.0), _row(1000, 10.0)])

    (row,) = peer_run.ratios([ours], [peer])

    assert row["headcount_req_per_s"] == 100.0
    assert row["peer_req_per_s"] == 100.0
    assert row["ratio"] == 1.0
    assert row["round_ratios"] == [1.02, 0.98]


def test_a_single_run_has_no_round_ratios() -> None:
    (row,) = peer_run.ratios([_row(300, 1.0)], [_row(120, 1.0)])

    assert row["ratio"] == 2.5
    assert row["round_ratios"] == []


@pytest.mark.parametrize(("rounds", "cancels"), [(1, False), (2, True), (4, True)])
def test_a_linear_drift_cancels_when_the_rounds_alternate(rounds: int, cancels: bool) -> None:
    """Two equal servers on a machine whose speed rises steadily: whichever runs later looks
    faster, unless each side's runs sit symmetrically in time."""

    def speed(t: float) -> float:
        return 1.0 + 0.1 * t

    runs: dict[str, list[dict[str, Any]]] = {"headcount": [], "peer": []}
    for slot, (_, side) in enumerate(interleave.order(rounds)):
        # The mean of a linear speed over [slot, slot + 1] is its value at the midpoint.
        runs[side].append(_row(requests=round(1000 * speed(slot + 0.5)), seconds=1.0))

    (row,) = peer_run.ratios(
        [interleave.combine(runs["headcount"])], [interleave.combine(runs["peer"])]
    )

    assert (row["ratio"] == 1.0) is cancels
    assert all(ratio != 1.0 for ratio in row["round_ratios"])


def test_the_peer_table_shows_each_rounds_ratio() -> None:
    ours = interleave.combine([_row(1020, 10.0), _row(980, 10.0)])
    peer = interleave.combine([_row(1000, 10.0), _row(1000, 10.0)])
    report = _report(
        {"results": [ours], "peer": [peer], "versus_peer": peer_run.ratios([ours], [peer])},
        peer_rounds=2,
    )

    text = run.markdown(report)

    assert "| Headcount / peer | per round |" in text
    assert "| post | 100.0 (5.0) | 100.0 (5.0) | 0 | 1.0x | 1.02 / 0.98 |" in text
    assert "2 rounds per workload" in text


def test_a_row_says_when_gunicorn_replaced_workers_during_it() -> None:
    replaced = interleave.combine(
        [{**_row(1000, 10.0), "workers_replaced": 1}, {**_row(1000, 10.0), "workers_replaced": 0}]
    )
    report = _report({"results": [replaced, {**_row(1000, 10.0), "workers_replaced": 0}]})

    text = run.markdown(report)

    assert [r["workers_replaced"] for r in replaced["rounds"]] == [1, 0]
    assert "| post (1 worker replaced) | 100.0 | 5.0 |" in text
    assert "| post | 100.0 | 5.0 |" in text


def test_the_two_empty_views_take_turns_and_combine_like_the_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The authenticated empty view's share of the routing-only ceiling is the fixed cost
    of authentication: with rounds both run in turns, so the machine's drift falls on
    both."""
    ran: list[str] = []

    def measure(target: Any, name: str, args: Any) -> dict[str, Any]:
        ran.append(name)
        # The machine speeds up with each run.
        return {**_row(requests=1000 * len(ran), seconds=10.0), "workload": name}

    monkeypatch.setattr(run, "measure", measure)
    args = run.argument_parser().parse_args(["--peer", "--peer-rounds", "2"])

    rows = run.drive_alternating(object(), run.EMPTY_PAIR, args)  # type: ignore[arg-type]

    assert ran == [
        "ceiling_empty",
        "authenticated_empty",
        "authenticated_empty",
        "ceiling_empty",
    ]
    assert [row["workload"] for row in rows] == list(run.EMPTY_PAIR)
    assert [row["req_per_s"] for row in rows] == [250.0, 250.0]  # (1 + 4) / 20, (2 + 3) / 20
    assert [r["req_per_s"] for r in rows[1]["rounds"]] == [200.0, 300.0]


def test_a_worker_counts_as_replaced_when_it_left_not_when_it_was_still_starting() -> None:
    assert run.workers_replaced({101, 102}, {101, 103}) == 1
    assert run.workers_replaced({101, 102}, {103, 104}) == 2
    # The master was still forking the second worker when the first workload began.
    assert run.workers_replaced({101}, {101, 102}) == 0


def _report(size: dict[str, Any], **run_fields: Any) -> dict[str, Any]:
    """A one-size report as `run.markdown` reads it: `size`'s rows for 10 users."""
    return {
        "started": "now",
        "machine": "m",
        "cpus": 2,
        "workers": 2,
        "concurrency": 8,
        "duration": 10,
        **run_fields,
        "sizes": [{"users": 10, "worker_rss_mb": [1.0], **size}],
    }


def _row(
    requests: int,
    seconds: float,
    p50: float = 5.0,
    p99: float = 10.0,
    errors: int = 0,
    settled: float = 0.0,
    cpu: dict[str, float] | None = None,
) -> dict[str, Any]:
    return {
        "workload": "post",
        "requests": requests,
        "seconds": seconds,
        "req_per_s": round(requests / seconds, 1),
        "errors": errors,
        "p50_ms": p50,
        "p95_ms": p99,
        "p99_ms": p99,
        "settled_s": settled,
        "cpu_ms": cpu or {},
    }
