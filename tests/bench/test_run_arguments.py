"""`make bench ARGS=…` takes workloads by the issue's letters or by name, and refuses typos
instead of running nothing."""

from pathlib import Path

import pytest

from bench import load, peer_run, run


def test_letters_and_names_choose_workloads_and_the_ceilings_always_run() -> None:
    chosen = run._workload_names("a, get_by_id,g")

    assert chosen == {"filter_username", "get_by_id", "group_patch", *load.CEILINGS}
    assert run._workload_names("") == set()  # no subset: everything


def test_every_workload_has_a_letter_or_is_a_ceiling() -> None:
    plans = load.workloads([{"id": "1", "userName": "user1@example.com"}], 1, "g")

    assert set(plans) == load.WORKLOAD_NAMES


def test_an_unknown_workload_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        run.main(["--workloads", "a,filter"])

    assert exited.value.code == 2
    assert "unknown workload 'filter'" in capsys.readouterr().err


def test_peer_without_its_virtualenv_says_how_to_set_it_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(peer_run, "PYTHON", tmp_path / "missing" / "python")

    with pytest.raises(SystemExit) as exited:
        run.main(["--peer"])

    assert exited.value.code == 2
    assert "bench/peer/setup.sh" in capsys.readouterr().err


def test_ratios_pair_the_workloads_both_servers_ran() -> None:
    ours = [
        {"workload": "post", "req_per_s": 300.0, "p50_ms": 20.0},
        {"workload": "ceiling_empty", "req_per_s": 2000.0, "p50_ms": 4.0},
        {"workload": "import_sweep", "pages": 10, "seconds": 1.0},
    ]
    peer = [{"workload": "post", "req_per_s": 120.0, "p50_ms": 60.0, "errors": 0}]

    assert peer_run.ratios(ours, peer) == [
        {
            "workload": "post",
            "headcount_req_per_s": 300.0,
            "headcount_p50_ms": 20.0,
            "peer_req_per_s": 120.0,
            "peer_p50_ms": 60.0,
            "peer_errors": 0,
            "headcount_cpu_ms": {},
            "peer_cpu_ms": {},
            "ratio": 2.5,
            "round_ratios": [],
        }
    ]
