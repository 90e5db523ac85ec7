"""`make bench ARGS=…` takes workloads by the issue's letters or by name, and refuses typos
instead of running nothing."""

import pytest

from bench import load, run


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
