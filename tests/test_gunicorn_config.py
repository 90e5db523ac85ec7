"""The production server's settings: what Django loaded is kept out of garbage collection, and
workers are forked from a master that loaded the application."""

import gc
import re
from pathlib import Path
from typing import Any

import pytest

from config import gunicorn
from tests.live import IdP, gunicorn_server, live_scim_company
from tests.scim_client import okta_user


def test_a_worker_freezes_what_it_loaded() -> None:
    try:
        gunicorn.post_worker_init(object())

        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.live
@pytest.mark.django_db
def test_workers_forked_from_the_loaded_application_keep_serving_as_they_recycle(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    with (
        live_scim_company(django_db_blocker) as live,
        gunicorn_server(tmp_path, WEB_MAX_REQUESTS="3") as url,
    ):
        idp = IdP.bearer(url, live)
        created = idp.call("POST", "/Users", okta_user("recycled@live.test"))
        assert created.status == 201, created.body

        # Each worker serves three requests, then is replaced by a fork of the master.
        replies = [idp.call("GET", f"/Users/{created.body['id']}") for _ in range(24)]

        assert [reply.status for reply in replies] == [200] * 24
        assert {reply.body["userName"] for reply in replies} == {"recycled@live.test"}
        log = (tmp_path / "gunicorn.log").read_text()
        assert log.count("Autorestarting worker") >= 6
        # The master holds the application (orjson: a library the application loads and
        # gunicorn's own configuration does not), so each new worker starts from it.
        master = re.search(r"\[(\d+)\] \[INFO\] Listening at", log)
        assert master is not None, log
        assert "orjson" in Path(f"/proc/{master.group(1)}/maps").read_text()
