"""The example receiver of docs/integrate.md, run as its own process: it verifies our
deliveries, refuses a forged one, and handles a re-sent event once. The page shows the file
as it is."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tenants.models import Company
from tests.live import ROOT, free_port
from tests.scim_client import Scim
from webhooks.delivery import deliver_stream
from webhooks.models import WebhookDelivery
from webhooks.payloads import signature
from webhooks.services import delivery_resend, endpoint_add

pytestmark = pytest.mark.django_db

EXAMPLE = ROOT / "docs" / "examples" / "webhook_receiver.py"


def test_the_page_shows_the_example_as_it_is() -> None:
    page = (ROOT / "docs" / "integrate.md").read_text()
    assert EXAMPLE.read_text() in page


def test_the_example_receiver_verifies_and_deduplicates(
    acme: Company, scim: Scim, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = settings.WEBHOOK_ALLOW_HTTP = True
    port = free_port()
    issued = endpoint_add(url=f"http://127.0.0.1:{port}/", company=acme, actor="tests")
    process = subprocess.Popen(  # noqa: S603 - the documented example
        [sys.executable, str(EXAMPLE), str(port)],
        env={**os.environ, "HEADCOUNT_WEBHOOK_SECRET": issued.secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (501 to a GET)
            except OSError:
                assert time.monotonic() < deadline, "the example receiver did not start"
                time.sleep(0.1)
        for name in ("ex1", "ex2"):
            assert scim.post("/Users", {"userName": f"{name}@acme.test"}).status_code == 201
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        first = WebhookDelivery.objects.filter(endpoint=issued.endpoint).order_by("seq").first()
        assert first is not None
        delivery_resend(first)  # both sent again: handled once
        deliver_stream(issued.endpoint.pk, acme.schema_name)

        forged = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=b'{"type": "user.deleted"}',
            headers={
                "webhook-id": "x",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,Zm9yZ2Vk",
            },
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=5)  # noqa: S310
        assert refused.value.code == 401
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line[0], line[2], line[3]) for line in lines] == [
        ("acme", "user.created", "ex1@acme.test"),
        ("acme", "user.created", "ex2@acme.test"),
    ]
    assert lines[0][1] < lines[1][1]
    statuses = WebhookDelivery.objects.filter(endpoint=issued.endpoint).values_list(
        "attempts", "response_status"
    )
    assert sorted(statuses) == [(2, 204), (2, 204)]  # both re-sent, in order


def test_the_set_rotation_snippet_verifies_the_header_with_either_secret() -> None:
    page = (ROOT / "docs" / "integrate.md").read_text()
    block = page.split("def header_verifies", 1)[1].split("\nif header_verifies", 1)[0]
    namespace: dict[str, Any] = {}
    exec("import base64, hashlib, hmac\ndef header_verifies" + block, namespace)  # noqa: S102 - the page's own code
    old, new, other = (f"whsec_{base64.b64encode(bytes([n]) * 24).decode()}" for n in (1, 2, 3))
    body, sent_at = b"header.claims.signature", dt.datetime.now(dt.UTC)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature([new, old], "msg_1", sent_at, body),
    }

    verifies = namespace["header_verifies"]
    assert verifies(headers, body, old) and verifies(headers, body, new)
    assert not verifies(headers, body, other)
    assert not verifies(headers, body + b"x", old)
