"""make run's alerting half: Alertmanager and the receiver started together, alerts shown."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from exporter.alerting.alerts import Alert
from exporter.stack.alerting import AlertLog, start_alerting
from tests.alert_sinks import wait_for

WAIT = 30.0


def _alert(status: str, fingerprint: str = "f1", severity: str = "critical") -> Alert:
    return Alert(
        name="HighErrorRate",
        status="firing" if status == "firing" else "resolved",
        severity=severity,
        labels={"alertname": "HighErrorRate", "job": "demo", "route": "/video/process"},
        annotations={"summary": "errors"},
        starts_at=datetime(2024, 5, 1, tzinfo=UTC),
        ends_at=None,
        fingerprint=fingerprint,
        receiver="paging",
    )


def test_the_alert_log_shows_what_fires_until_it_resolves() -> None:
    log = AlertLog()
    log(_alert("firing"))
    log(_alert("firing", fingerprint="f2", severity="warning"))
    firing_lines = log.summary_lines()
    log(_alert("resolved"))
    assert firing_lines[0].strip() == "alerts: 2 firing (as received by the webhook callback)"
    assert (
        "firing critical HighErrorRate job=demo route=/video/process: errors" in (firing_lines[1])
    )
    assert [a.fingerprint for a in log.firing()] == ["f2"]
    assert log.summary_lines()[0].strip().startswith("alerts: 1 firing")
    assert len(log.recent()) == 3


def test_start_alerting_delivers_alertmanager_alerts_to_the_summary(tmp_path: Path) -> None:
    alerting = start_alerting(tmp_path)
    try:
        labels = {"alertname": "HighErrorRate", "severity": "critical", "job": "demo"}
        request = urllib.request.Request(
            alerting.alertmanager.url + "/api/v2/alerts",
            data=json.dumps([{"labels": labels, "annotations": {"summary": "s"}}]).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
        wait_for(lambda: bool(alerting.log.firing()), WAIT, "the alert in the log")
    finally:
        alerting.stop()
    (alert,) = alerting.log.firing()
    assert (alert.name, alert.severity, alert.receiver) == ("HighErrorRate", "critical", "paging")
    assert "1 firing" in alerting.log.summary_lines()[0]
