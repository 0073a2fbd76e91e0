"""The receiver as a standalone app, as the ``exporter webhook`` command, and mounted in a
user's app through the monitor."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

import exporter
from exporter.alerting.alerts import Alert
from exporter.cli import main
from exporter.errors import ExporterError
from exporter.httpauth import Credentials
from exporter.stack.servers import find_binary, free_port, start_python_app
from exporter.webhook import (
    AlertReceiver,
    add_arguments,
    create_webhook_app,
    credentials_from_args,
)
from tests.payloads import alert, body

WAIT = 10.0


def test_the_standalone_app_serves_health_and_metrics_next_to_the_receiver(
    registry: CollectorRegistry,
) -> None:
    receiver = AlertReceiver(exporter.AlertDispatcher(registry))
    app = create_webhook_app(receiver, registry=registry)
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok", "queued_alerts": 0}
        assert client.post("/alerts", content=body(alert())).status_code == 200
        metrics = client.get("/metrics").text
    assert "alert_webhook_notifications_received_total 1.0" in metrics
    assert 'http_server_request_duration_seconds_count{method="POST",route="/alerts",' in metrics


def test_the_receiver_metrics_pass_promtool_check_metrics(registry: CollectorRegistry) -> None:
    dispatcher = exporter.AlertDispatcher(registry)
    dispatcher.add_callback(lambda alert: None)
    receiver = AlertReceiver(dispatcher)
    app = create_webhook_app(receiver, registry=registry)
    with TestClient(app) as client:
        client.post("/alerts", content=body(alert()))
        client.post("/alerts", content=b"x")
        assert dispatcher.wait_idle(WAIT)
        metrics = client.get("/metrics").content
    assert b"alert_webhook_callback_duration_seconds_bucket" in metrics
    check = subprocess.run(
        [find_binary("promtool"), "check", "metrics"],
        input=metrics,
        capture_output=True,
        timeout=60,
    )
    assert (check.returncode, check.stdout + check.stderr) == (0, b"")


def test_shutting_the_app_down_runs_the_alerts_still_queued(registry: CollectorRegistry) -> None:
    seen: list[str] = []
    dispatcher = exporter.AlertDispatcher(registry)
    dispatcher.add_callback(lambda alert: seen.append(alert.fingerprint))
    app = create_webhook_app(AlertReceiver(dispatcher), registry=registry)
    with TestClient(app) as client:
        for i in range(20):
            client.post("/alerts", content=body(alert(fingerprint=f"f{i}")))
    assert seen == [f"f{i}" for i in range(20)]


def test_the_receiver_run_as_a_whole_app_drains_its_queue_at_shutdown(
    registry: CollectorRegistry,
) -> None:
    seen: list[str] = []
    dispatcher = exporter.AlertDispatcher(registry)
    dispatcher.add_callback(lambda alert: seen.append(alert.fingerprint))
    with TestClient(AlertReceiver(dispatcher)) as client:  # lifespan: startup ... shutdown
        for i in range(5):
            assert client.post("/", content=body(alert(fingerprint=f"f{i}"))).status_code == 200
    assert seen == [f"f{i}" for i in range(5)]


def test_a_monitor_mounts_the_receiver_and_runs_its_alert_callbacks(
    registry: CollectorRegistry,
) -> None:
    app = FastAPI()

    @app.post("/{anything:path}")  # a catch-all must not shadow the receiver
    async def catch_all(anything: str) -> dict[str, str]:
        return {"caught": anything}

    monitor = exporter.instrument(app, registry=registry, system_metrics=False, gpu_metrics=False)
    seen: list[Alert] = []

    @monitor.add_alert_callback
    def on_alert(alert: Alert) -> None:
        seen.append(alert)

    monitor.mount_alert_receiver(app, "/alertmanager/webhook", bearer_token="t0ken")
    with TestClient(app) as client:
        refused = client.post("/alertmanager/webhook", content=body(alert()))
        accepted = client.post(
            "/alertmanager/webhook",
            content=body(alert()),
            headers={"Authorization": "Bearer t0ken"},
        )
        metrics = client.get("/metrics").text
    assert on_alert is not None  # the decorator gives the function back
    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert monitor.alert_dispatcher().wait_idle(WAIT)
    assert [(a.name, a.status) for a in seen] == [("HighErrorRate", "firing")]
    assert "alert_webhook_notifications_received_total 1.0" in metrics


def test_a_monitor_refuses_two_kinds_of_auth_at_once(registry: CollectorRegistry) -> None:
    monitor = exporter.PerformanceMonitor(registry, system_metrics=False, gpu_metrics=False)
    with pytest.raises(ValueError, match="either bearer_token or basic_auth"):
        monitor.mount_alert_receiver(FastAPI(), bearer_token="a", basic_auth=("u", "p"))


def test_a_monitor_refuses_an_empty_bearer_token(registry: CollectorRegistry) -> None:
    monitor = exporter.PerformanceMonitor(registry, system_metrics=False, gpu_metrics=False)
    with pytest.raises(ValueError, match="bearer_token must not be empty"):
        monitor.mount_alert_receiver(FastAPI(), bearer_token="")


CALLBACK_MODULE = """
import json, os

def record(alert):
    with open(os.environ["ALERTS_OUT"], "a") as out:
        out.write(json.dumps([alert.name, alert.status, alert.severity, alert.receiver]) + "\\n")
"""


def _post(url: str, content: bytes, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=content, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the open response
            return exc.code, exc.read().decode()


def test_the_webhook_command_runs_a_callback_given_as_module_and_function(
    tmp_path: Path,
) -> None:
    (tmp_path / "my_alerts.py").write_text(CALLBACK_MODULE)
    (tmp_path / "token").write_text("s3cret\n")
    out = tmp_path / "alerts.jsonl"
    port = free_port()
    argv = ["exporter", "webhook", "--port", str(port), "--callback", "my_alerts:record"]
    argv += ["--bearer-token-file", str(tmp_path / "token")]
    env = {"PYTHONPATH": str(tmp_path), "ALERTS_OUT": str(out)}
    server = start_python_app("webhook", argv, tmp_path, port, env=env)
    try:
        url = f"{server.url}/alerts"
        assert _post(url, body(alert()))[0] == 401
        assert _post(url, body(alert(), receiver="paging"), token="s3cret")[0] == 200
        server.wait_until(lambda: out.exists() and out.read_text() != "", WAIT, "calling back")
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        server.stop()
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        ["HighErrorRate", "firing", "critical", "paging"]
    ]
    assert 'alert_webhook_notifications_rejected_total{reason="unauthorized"} 1.0' in metrics
    assert "alert: firing critical HighErrorRate job=demo route=/video/process" in (
        server.log_tail(50)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--callback", "nocolon"], "--callback 'nocolon': expected MODULE:FUNCTION"),
        (["--callback", "no_such_mod_x:f"], "cannot import no_such_mod_x"),
        (["--callback", "json:no_such_fn"], "json has no no_such_fn"),
        (["--callback", "json:__doc__"], "__doc__ is not callable"),
        (["--basic-auth", "justuser"], "--basic-auth: expected USER:PASSWORD"),
        (["--bearer-token", ""], "--bearer-token: must not be empty"),
        (["--bearer-token-file", "/nonexistent/t"], "--bearer-token-file: cannot read"),
        (["--port", "0"], "--port: not a TCP port: 0"),
        (["--queue-size", "0"], "--queue-size must be at least 1"),
        (["--path", "alerts"], "--path must start with '/'"),
    ],
)
def test_webhook_command_errors_are_one_line_and_exit_1(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["webhook", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("exporter webhook: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_bad_basic_auth_variable_is_named_as_the_source_of_the_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXPORTER_WEBHOOK_BASIC_AUTH", "bad")
    assert main(["webhook"]) == 1
    assert capsys.readouterr().err == (
        "exporter webhook: error: $EXPORTER_WEBHOOK_BASIC_AUTH: expected USER:PASSWORD\n"
    )


def _credentials(argv: list[str], environ: dict[str, str]) -> Credentials:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return credentials_from_args(parser.parse_args(argv), environ)


def test_an_empty_bearer_token_variable_means_no_authentication() -> None:
    assert not _credentials([], {"EXPORTER_WEBHOOK_BEARER_TOKEN": ""}).required


def test_an_auth_option_overrides_the_auth_variables() -> None:
    environ = {"EXPORTER_WEBHOOK_BEARER_TOKEN": "from-env"}
    assert _credentials(["--basic-auth", "am:pw"], environ) == Credentials(
        basic_user="am", basic_password="pw"
    )


def test_both_auth_variables_set_is_an_error_naming_them() -> None:
    environ = {"EXPORTER_WEBHOOK_BEARER_TOKEN": "t", "EXPORTER_WEBHOOK_BASIC_AUTH": "am:pw"}
    with pytest.raises(ExporterError) as caught:
        _credentials([], environ)
    assert str(caught.value) == (
        "$EXPORTER_WEBHOOK_BEARER_TOKEN and $EXPORTER_WEBHOOK_BASIC_AUTH are both set; set one"
    )


def test_the_webhook_command_on_a_busy_port_is_one_line_and_says_nothing_of_listening(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["webhook", "--port", str(port)])
    assert code == 1
    assert capsys.readouterr().err == (
        f"exporter webhook: error: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (is another server running there?)\n"
    )
    assert "alert receiver on" not in caplog.text


def test_the_webhook_command_on_an_unknown_host_is_one_line(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert main(["webhook", "--host", "nosuch.invalid", "--port", "18778"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("exporter webhook: error: --host 'nosuch.invalid': cannot resolve it: ")
    assert err.count("\n") == 1
    assert "alert receiver on" not in caplog.text
