"""The bare one-lookup ceiling of `make bench` (bench/bare/): a minimal Django + DRF app on a
copy of the benchmark company's users, served by gunicorn with the production settings, and
every workload reported as a share of it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from bench import load, run
from bench.bare import seed as bare_seed
from bench.management.commands import bench_seed
from directory.models import Member
from tests.live import ROOT, free_port, in_thread, live_scim_company, process_env


def test_the_bare_ceiling_runs_by_default_and_can_be_skipped() -> None:
    assert run.argument_parser().parse_args([]).bare is True
    assert run.argument_parser().parse_args(["--no-bare"]).bare is False


def test_the_bare_ceilings_are_not_workloads_to_choose(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run.main(["--workloads", "bare_lookup"])

    assert exited.value.code == 2
    assert "unknown workload 'bare_lookup'" in capsys.readouterr().err


def test_the_bare_requests_are_the_lookups_of_the_routed_ceiling() -> None:
    plans = load.bare_workloads(50)
    routed = load.workloads([{"id": "1", "userName": "user1@example.com"}], 50, "g")
    rng_bare, rng_routed = random.Random(3), random.Random(3)  # noqa: S311

    assert set(plans) == set(load.BARE_CEILINGS)
    assert plans["bare_empty"](rng_bare) == ("GET", "/empty", None)
    bare_path = plans["bare_lookup"](rng_bare)[1]
    routed_path = routed["ceiling_lookup"](rng_routed)[1]
    assert bare_path.split("?")[1] == routed_path.split("?")[1]


def test_every_workload_gets_its_share_of_the_bare_lookup() -> None:
    results = [
        {"workload": "ceiling_lookup", "req_per_s": 1000.0},
        {"workload": "get_by_id", "req_per_s": 500.0},
        {"workload": "import_sweep", "pages": 10, "seconds": 1.0},
    ]
    bare = [
        {"workload": "bare_empty", "req_per_s": 4000.0},
        {"workload": "bare_lookup", "req_per_s": 2000.0},
    ]

    rows = {row["workload"]: row for row in load.summarize(results, bare)}

    assert rows["get_by_id"]["share_of_bare_lookup"] == "25%"
    assert rows["get_by_id"]["share_of_lookup_ceiling"] == "50%"
    assert rows["ceiling_lookup"]["share_of_bare_lookup"] == "50%"
    assert "share_of_bare_lookup" not in rows["import_sweep"]
    assert set(rows) == {"ceiling_lookup", "get_by_id", "import_sweep", *load.BARE_CEILINGS}
    fresh = [{"workload": "get_by_id", "req_per_s": 500.0}]
    assert "share_of_bare_lookup" not in load.summarize(fresh)[0]  # --no-bare


def test_the_report_has_a_column_for_the_bare_share() -> None:
    report: dict[str, Any] = {
        "started": "now",
        "machine": "m",
        "cpus": 2,
        "workers": 2,
        "concurrency": 8,
        "duration": 1,
        "sizes": [
            {
                "users": 10,
                "worker_rss_mb": [1.0],
                "results": load.summarize(
                    [{"workload": "get_by_id", "req_per_s": 50.0, **_latencies()}],
                    [{"workload": "bare_lookup", "req_per_s": 100.0, **_latencies()}],
                ),
            }
        ],
    }

    text = run.markdown(report)

    assert "| share of lookup ceiling | share of bare lookup |" in text
    assert "| get_by_id | 50.0 | 1 | 2 | 3 | 0 |  | 50% |" in text


def _latencies() -> dict[str, Any]:
    return {"p50_ms": 1, "p95_ms": 2, "p99_ms": 3, "errors": 0}


def _get(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/scim+json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_bare_app_answers_the_same_lookup_on_a_copy_of_the_users(
    db: None, django_db_blocker: Any, tmp_path: Path
) -> None:
    with live_scim_company(django_db_blocker) as live:
        slug, schema = live.company.slug, live.company.schema_name

        def arrange() -> tuple[int, str]:
            with django_db_blocker.unblock():
                call_command(
                    bench_seed.Command(), "--company", slug, "--users", "30", stdout=StringIO()
                )
                with schema_context(schema):
                    user7 = str(Member.objects.get(user_name="user7@example.com").id)
                return bare_seed.seed(process_env()["DATABASE_URL"], slug), user7

        copied, user7 = in_thread(arrange)
        port = free_port()
        env = process_env(DJANGO_SETTINGS_MODULE="bench.bare.settings")
        log = (tmp_path / "bare.log").open("wb")
        server = subprocess.Popen(  # noqa: S603 - our own server command
            [
                *(sys.executable, "-m", "gunicorn", "bench.bare.wsgi:application"),
                *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
                *("--config", "python:config.gunicorn"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            run.peer_run.wait_until_answering(server, f"http://127.0.0.1:{port}/empty", "bare")
            found = _get(f"http://127.0.0.1:{port}/lookup?userName=USER7@Example.com")
            missing = _get(f"http://127.0.0.1:{port}/lookup?userName=user31@example.com")
        finally:
            server.terminate()
            server.wait(10)
            log.close()

            def drop() -> None:
                with django_db_blocker.unblock(), connection.cursor() as cursor:
                    cursor.execute("DROP SCHEMA IF EXISTS bench_bare CASCADE")

            in_thread(drop)

    assert copied == 30
    assert found[0] == 200
    assert found[1]["id"] == user7 and found[1]["userName"] == "user7@example.com"
    assert missing == (404, {})


def test_copying_from_an_unknown_company_says_so(db: None, django_db_blocker: Any) -> None:
    def attempt() -> str:
        with django_db_blocker.unblock(), pytest.raises(LookupError) as failed:
            bare_seed.seed(process_env()["DATABASE_URL"], "no-such-company")
        return str(failed.value)

    assert "no-such-company" in in_thread(attempt)
