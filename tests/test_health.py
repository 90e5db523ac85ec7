from django.test import Client, override_settings


def test_healthz_reports_database_and_broker(db: None, client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_is_503_when_the_broker_is_down(db: None, client: Client) -> None:
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "unreachable"}


def test_every_response_carries_a_request_id(db: None, client: Client) -> None:
    generated = client.get("/healthz")
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="okta-req-12345678")
    refused = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert len(generated["X-Request-ID"]) == 32
    assert kept["X-Request-ID"] == "okta-req-12345678"
    assert refused["X-Request-ID"] != "bad id\nwith newline"
