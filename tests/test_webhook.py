"""The receiver over HTTP (in-process through Starlette's test client; the dispatcher's worker
thread is real)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from exporter.alerting.alerts import Alert
from exporter.alerting.dispatch import AlertDispatcher
from exporter.httpauth import Credentials
from exporter.webhook import AlertReceiver
from tests.payloads import alert, body

WAIT = 10.0  # generous bound for the worker thread to run the callbacks


class Recorder:
    """A callback that keeps what it was given."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def __call__(self, alert: Alert) -> None:
        self.alerts.append(alert)


@pytest.fixture
def dispatcher(registry: CollectorRegistry) -> Iterator[AlertDispatcher]:
    dispatcher = AlertDispatcher(registry)
    yield dispatcher
    dispatcher.close()


@pytest.fixture
def recorder(dispatcher: AlertDispatcher) -> Recorder:
    recorder = Recorder()
    dispatcher.add_callback(recorder)
    return recorder


def client_for(receiver: AlertReceiver) -> TestClient:
    return TestClient(receiver, base_url="http://am")


def post(
    receiver: AlertReceiver, content: bytes, **headers: str
) -> tuple[int, str, dict[str, str]]:
    # no `with`: no lifespan, whose shutdown would drain and stop the dispatcher each time
    response = client_for(receiver).post("/alerts", content=content, headers=headers)
    return response.status_code, response.text, dict(response.headers)


def test_a_notification_reaches_the_callback_as_a_typed_alert(
    dispatcher: AlertDispatcher, recorder: Recorder
) -> None:
    status, text, _ = post(AlertReceiver(dispatcher), body(alert()))
    assert status == 200
    assert json.loads(text) == {"status": "ok", "alerts": 1, "queued": 1, "duplicates": 0}
    assert dispatcher.wait_idle(WAIT)
    (got,) = recorder.alerts
    assert (got.name, got.status, got.severity) == ("HighErrorRate", "firing", "critical")
    assert got.annotations["runbook_url"] == "https://example.com/runbooks#higherrorrate"


BAD_INPUTS = [
    ("not JSON", b"<html>hello</html>", 400, "body is not JSON"),
    ("empty body", b"", 400, "body is not JSON"),
    ("invalid UTF-8", b'{"version": "4\xff"}', 400, "body is not JSON"),
    ("nested too deep", b"[" * 100_000, 400, "body is not JSON"),
    (
        "a JSON list",
        b"[]",
        422,
        "not an Alertmanager notification: expected a JSON object, got a list",
    ),
    (
        "no alerts",
        json.dumps({"version": "4", "status": "firing", "receiver": "x"}).encode(),
        422,
        "not an Alertmanager notification: alerts: missing",
    ),
    ("NaN", b'{"version": "4", "alerts": NaN}', 400, "body is not JSON"),
    ("Infinity", b'{"version": "4", "truncatedAlerts": Infinity}', 400, "body is not JSON"),
    ("-Infinity", b"[-Infinity]", 400, "body is not JSON"),
    (
        "a null fingerprint",
        body(alert(fingerprint=None)),  # type: ignore[arg-type]
        422,
        "not an Alertmanager notification: alerts[0].fingerprint: expected a string, got null",
    ),
    (
        "version 3",
        json.dumps({"version": "3", "alerts": []}).encode(),
        422,
        "version '3' is not supported (this receiver reads version '4')",
    ),
]


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_refused_with_a_short_reason_and_no_callback_runs(
    dispatcher: AlertDispatcher, recorder: Recorder, content: bytes, status: int, reason: str
) -> None:
    got_status, text, headers = post(AlertReceiver(dispatcher), content)
    assert (got_status, text) == (status, reason + "\n")
    assert headers["content-type"].startswith("text/plain")
    assert dispatcher.wait_idle(WAIT)
    assert recorder.alerts == []


def test_a_body_over_the_limit_is_refused_with_413(
    dispatcher: AlertDispatcher, recorder: Recorder
) -> None:
    receiver = AlertReceiver(dispatcher, max_body_bytes=100)
    status, text, _ = post(receiver, body(alert()))
    assert (status, text) == (413, "body larger than 100 bytes\n")
    assert recorder.alerts == []


def test_a_body_without_content_length_over_the_limit_is_refused_with_413(
    dispatcher: AlertDispatcher, recorder: Recorder
) -> None:
    receiver = AlertReceiver(dispatcher, max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:  # sent chunked: the size is only known by reading
        for _ in range(100):
            yield b" " * 100

    response = client_for(receiver).post("/alerts", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert recorder.alerts == []


def test_a_get_is_refused_with_405_and_the_allowed_method(dispatcher: AlertDispatcher) -> None:
    response = client_for(AlertReceiver(dispatcher)).get("/alerts")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.text == "method GET not allowed; use POST\n"


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong", 401),
        ("Bearer ", 401),
        ("Bearer", 401),
        ("Basic " + base64.b64encode(b"am:s3cret").decode(), 401),
        ("Bearer s3cret", 200),
    ],
)
def test_a_bearer_token_is_required_when_configured(
    dispatcher: AlertDispatcher,
    recorder: Recorder,
    authorization: str | None,
    status: int,
) -> None:
    receiver = AlertReceiver(dispatcher, credentials=Credentials(bearer_token="s3cret"))
    headers = {"authorization": authorization} if authorization else {}
    got_status, text, response_headers = post(receiver, body(alert()), **headers)
    assert got_status == status
    assert dispatcher.wait_idle(WAIT)
    if status == 401:
        assert text == "missing or wrong credentials\n"
        assert response_headers["www-authenticate"] == 'Bearer realm="alerts"'
        assert recorder.alerts == []
    else:
        assert len(recorder.alerts) == 1


def test_an_empty_bearer_token_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="bearer_token must not be empty"):
        Credentials(bearer_token="")


@pytest.mark.parametrize(
    ("user_password", "status"),
    [(b"am:s3cret", 200), (b"am:wrong", 401), (b"other:s3cret", 401), (b"am", 401)],
)
def test_basic_auth_is_required_when_configured(
    dispatcher: AlertDispatcher, user_password: bytes, status: int
) -> None:
    credentials = Credentials(basic_user="am", basic_password="s3cret")
    receiver = AlertReceiver(dispatcher, credentials=credentials)
    header = "Basic " + base64.b64encode(user_password).decode()
    got_status, _, headers = post(receiver, body(alert()), authorization=header)
    assert got_status == status
    if status == 401:
        assert headers["www-authenticate"] == 'Basic realm="alerts"'


def test_a_failing_callback_is_logged_and_counted_and_the_others_still_run(
    dispatcher: AlertDispatcher,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(alert: Alert) -> None:
        raise RuntimeError("pager service down")

    after = Recorder()
    dispatcher.add_callback(broken)
    dispatcher.add_callback(after)
    with caplog.at_level(logging.ERROR, logger="exporter.alerting.dispatch"):
        status, _, _ = post(AlertReceiver(dispatcher), body(alert()))
        assert dispatcher.wait_idle(WAIT)
    assert status == 200
    assert len(after.alerts) == 1
    name = f"{__name__}.test_a_failing_callback_is_logged_and_counted_and_the_others_still_run"
    name += ".<locals>.broken"
    errors = registry.get_sample_value("alert_webhook_callback_errors_total", {"callback": name})
    assert errors == 1
    (record,) = caplog.records
    assert "failed on HighErrorRate (firing): RuntimeError: pager service down" in record.message
    assert record.exc_info is not None


def test_a_slow_callback_does_not_hold_back_the_answer(dispatcher: AlertDispatcher) -> None:
    release = threading.Event()
    finished = threading.Event()

    def slow(alert: Alert) -> None:
        release.wait(WAIT)
        finished.set()

    dispatcher.add_callback(slow)
    status, _, _ = post(AlertReceiver(dispatcher), body(alert()))
    answered_before_callback_finished = not finished.is_set()
    release.set()
    assert status == 200
    assert answered_before_callback_finished
    assert dispatcher.wait_idle(WAIT)
    assert finished.is_set()


def test_async_callbacks_are_awaited(dispatcher: AlertDispatcher) -> None:
    seen: list[str] = []

    async def on_alert(alert: Alert) -> None:
        await asyncio.sleep(0)
        seen.append(alert.status)

    dispatcher.add_callback(on_alert)
    post(AlertReceiver(dispatcher), body(alert()))
    assert dispatcher.wait_idle(WAIT)
    assert seen == ["firing"]


def test_a_repeated_delivery_reaches_the_callbacks_once(
    dispatcher: AlertDispatcher, recorder: Recorder, registry: CollectorRegistry
) -> None:
    receiver = AlertReceiver(dispatcher)
    first = post(receiver, body(alert()))
    again = post(receiver, body(alert()))
    assert json.loads(first[1])["queued"] == 1
    assert json.loads(again[1]) == {"status": "ok", "alerts": 1, "queued": 0, "duplicates": 1}
    assert dispatcher.wait_idle(WAIT)
    assert len(recorder.alerts) == 1
    assert registry.get_sample_value("alert_webhook_alerts_deduplicated_total") == 1


def test_firing_then_resolved_then_firing_again_are_three_deliveries_in_order(
    dispatcher: AlertDispatcher, recorder: Recorder
) -> None:
    receiver = AlertReceiver(dispatcher)
    post(receiver, body(alert()))
    post(receiver, body(alert(status="resolved", ends_at="2024-05-01T10:05:00Z")))
    post(receiver, body(alert(status="resolved", ends_at="2024-05-01T10:05:00Z")))
    post(receiver, body(alert(starts_at="2024-05-01T11:00:00Z")))
    assert dispatcher.wait_idle(WAIT)
    assert [a.status for a in recorder.alerts] == ["firing", "resolved", "firing"]


def test_the_same_alert_twice_in_one_notification_is_delivered_once(
    dispatcher: AlertDispatcher, recorder: Recorder
) -> None:
    _, text, _ = post(AlertReceiver(dispatcher), body(alert(), alert()))
    assert json.loads(text)["queued"] == 1
    assert dispatcher.wait_idle(WAIT)
    assert len(recorder.alerts) == 1


def test_the_duplicate_memory_is_bounded_and_forgets_the_oldest(
    registry: CollectorRegistry,
) -> None:
    dispatcher = AlertDispatcher(registry, memory=2)
    recorder = Recorder()
    dispatcher.add_callback(recorder)
    receiver = AlertReceiver(dispatcher)
    for fingerprint in ("a1", "a2", "a3", "a1"):
        post(receiver, body(alert(fingerprint=fingerprint)))
    assert dispatcher.wait_idle(WAIT)
    dispatcher.close()
    # a1 was forgotten when a3 arrived, so its repeat is delivered again (at least once)
    assert [a.fingerprint for a in recorder.alerts] == ["a1", "a2", "a3", "a1"]


def test_a_full_queue_answers_503_so_alertmanager_retries_and_loses_nothing(
    registry: CollectorRegistry,
) -> None:
    dispatcher = AlertDispatcher(registry, queue_size=1)
    started, release = threading.Event(), threading.Event()
    delivered: list[str] = []

    def blocking(alert: Alert) -> None:
        started.set()
        release.wait(WAIT)
        delivered.append(alert.fingerprint)

    dispatcher.add_callback(blocking)
    receiver = AlertReceiver(dispatcher)
    assert post(receiver, body(alert(fingerprint="f1")))[0] == 200
    assert started.wait(WAIT)  # the worker holds f1; the queue is empty again
    assert post(receiver, body(alert(fingerprint="f2")))[0] == 200  # fills the queue
    status, text, headers = post(receiver, body(alert(fingerprint="f3")))
    assert status == 503
    assert text.startswith("callback queue full: 1 alerts are waiting for the callbacks")
    assert headers["retry-after"] == "5"
    release.set()
    assert dispatcher.wait_idle(WAIT)
    # Alertmanager's retry of the same notification is not taken for a duplicate
    assert post(receiver, body(alert(fingerprint="f3")))[0] == 200
    assert dispatcher.wait_idle(WAIT)
    dispatcher.close()
    assert delivered == ["f1", "f2", "f3"]
    rejected = {"reason": "queue_full"}
    assert registry.get_sample_value("alert_webhook_notifications_rejected_total", rejected) == 1


def test_the_receiver_counts_notifications_alerts_and_rejections(
    dispatcher: AlertDispatcher, registry: CollectorRegistry
) -> None:
    receiver = AlertReceiver(dispatcher)
    post(receiver, body(alert(), alert(fingerprint="w1", severity="warning")))
    post(receiver, body(alert(fingerprint="x1", severity="page-me-now")))
    post(receiver, body(alert(fingerprint="n1", severity="")))
    post(receiver, b"nope")
    assert dispatcher.wait_idle(WAIT)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("alert_webhook_notifications_received_total") == 3
    assert value("alert_webhook_alerts_received_total", status="firing", severity="critical") == 1
    assert value("alert_webhook_alerts_received_total", status="firing", severity="warning") == 1
    assert value("alert_webhook_alerts_received_total", status="firing", severity="other") == 1
    assert value("alert_webhook_alerts_received_total", status="firing", severity="none") == 1
    assert value("alert_webhook_notifications_rejected_total", reason="not_json") == 1
    assert value("alert_webhook_notifications_rejected_total", reason="unauthorized") == 0
    assert value("alert_webhook_queued_alerts") == 0
    last = value("alert_webhook_last_notification_timestamp_seconds")
    assert last is not None
    assert last > 1e9
