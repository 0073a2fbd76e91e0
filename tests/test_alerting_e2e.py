"""End to end on real components: errors in the demo reach a Python alert callback.

demo (uvicorn, errors injected with PUT /demo/config) under load -> a real Prometheus scraping it
every second with an error-ratio alert pair -> a real Alertmanager with the project's
alertmanager.yml (fast timings) -> the webhook receiver -> a registered callback.

The alert rules here are a stand-in written for this test (``HighErrorRate``, warning above 5 %
and critical above 10 % of a route's requests failing, by job and route); the project's
generated rules (prometheus/rules/*.alerts.yml) will replace them.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from exporter.alerting.alerts import Alert
from exporter.alerting.amconfig import parse_duration, write_local_config
from exporter.alerting.dispatch import AlertDispatcher
from exporter.loadgen import Call, generate
from exporter.promapi import PrometheusClient
from exporter.stack.alerting import prometheus_alerting_config
from exporter.stack.servers import (
    ManagedProcess,
    free_port,
    start_alertmanager,
    start_prometheus,
    start_python_app,
)
from exporter.webhook import AlertReceiver, BackgroundServer, start_receiver_server
from tests.alert_sinks import wait_for

WAIT = 60.0  # bounded waits: generous, the machine is shared

RULES = """\
groups:
  - name: e2e-error-rate
    interval: 1s
    rules:
{rules}
"""

RULE = """\
      - alert: HighErrorRate
        expr: |
          sum by (job, route) (
              rate(http_server_request_duration_seconds_count{{status=~"5.."}}[10s])
            )
            / sum by (job, route) (rate(http_server_request_duration_seconds_count[10s]))
            > {threshold}
        for: 2s
        labels:
          severity: {severity}
        annotations:
          summary: "{{{{ $labels.route }}}} fails {{{{ $value | humanizePercentage }}}} of requests"
          description: "5xx ratio of {{{{ $labels.job }}}} {{{{ $labels.route }}}} over 10s"
          value: "{{{{ $value | humanizePercentage }}}}"
          runbook_url: https://example.com/runbooks#higherrorrate
"""

PROMETHEUS = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["127.0.0.1:{app_port}"]
"""


class Recorder:
    """The registered callback: every alert with the time it arrived."""

    def __init__(self) -> None:
        self.got: list[tuple[float, Alert]] = []
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self.got.append((time.monotonic(), alert))

    def find(self, status: str, severity: str) -> tuple[float, Alert] | None:
        with self._lock:
            for at, alert in self.got:
                wanted = (alert.name, alert.status, alert.severity, alert.labels.get("route"))
                if wanted == ("HighErrorRate", status, severity, "/video/process"):
                    return at, alert
        return None

    def alerts(self) -> list[Alert]:
        with self._lock:
            return [alert for _, alert in self.got]


class Load:
    """POST /video/process at a steady rate from a background thread until stopped."""

    def __init__(self, url: str, rps: float) -> None:
        self.url, self.rps = url, rps
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @staticmethod
    def _process(rng: random.Random) -> Call:
        return Call("POST", "/video/process", {"video_id": f"v{rng.randrange(100)}"})

    async def _run(self) -> None:
        while not self._stop.is_set():
            stats = await generate(self.url, self.rps, duration=1.0, mix=self._process)
            self.sent += stats.sent

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


@dataclass
class Pipeline:
    demo: ManagedProcess
    prometheus: PrometheusClient
    alertmanager_url: str
    recorder: Recorder
    warning_group_wait: float  # seconds, in the Alertmanager config the test runs


def set_error_rate(demo_url: str, rate: float) -> None:
    request = urllib.request.Request(
        demo_url + "/demo/config",
        data=json.dumps({"error_rate": rate}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["error_rate"] == rate


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    started: list[ManagedProcess | BackgroundServer] = []
    try:
        app_port = free_port()
        demo_args = ["exporter", "demo", "--port", str(app_port), "--error-rate", "0"]
        demo_args += ["--latency-ms", "10"]
        demo = start_python_app("demo", demo_args, tmp_path, app_port)
        started.append(demo)

        registry = CollectorRegistry()
        recorder = Recorder()
        dispatcher = AlertDispatcher(registry)
        dispatcher.add_callback(recorder)
        receiver = start_receiver_server(AlertReceiver(dispatcher), registry=registry)
        started.append(receiver)

        am_config = write_local_config(tmp_path, receiver.url + "/alerts")
        alertmanager = start_alertmanager(am_config, tmp_path)
        started.append(alertmanager)

        rules = tmp_path / "error-rate.alerts.yml"
        pair = [
            RULE.format(threshold=0.05, severity="warning"),
            RULE.format(threshold=0.10, severity="critical"),
        ]
        rules.write_text(RULES.format(rules="".join(pair)))
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            PROMETHEUS.format(rules=rules, app_port=app_port)
            + prometheus_alerting_config(alertmanager.url)
        )
        prometheus = start_prometheus(prom_config, tmp_path)
        started.append(prometheus)
        client = PrometheusClient(prometheus.url)
        client.wait_for("up{job='demo'} == 1", timeout=WAIT)
        prometheus.wait_until(
            lambda: _alertmanagers(prometheus.url) > 0, WAIT, "sending to Alertmanager"
        )
        routes = yaml.safe_load(am_config.read_text())["route"]["routes"]
        (chat,) = [r for r in routes if r["receiver"] == "chat"]
        wait = parse_duration(chat["group_wait"])
        yield Pipeline(demo, client, alertmanager.url, recorder, wait)
    finally:
        for process in reversed(started):
            process.stop()


def _alertmanagers(prometheus_url: str) -> int:
    with urllib.request.urlopen(prometheus_url + "/api/v1/alertmanagers", timeout=5) as response:
        data = json.loads(response.read())["data"]
    return len(data.get("activeAlertmanagers", []))


def _warning_inhibited(alertmanager_url: str) -> bool:
    url = alertmanager_url + "/api/v2/alerts?inhibited=true&filter=severity%3D%22warning%22"
    with urllib.request.urlopen(url, timeout=10) as response:
        alerts: list[dict[str, Any]] = json.loads(response.read())
    return any(
        a["labels"].get("route") == "/video/process" and a["status"]["inhibitedBy"] for a in alerts
    )


def test_errors_under_load_reach_the_callback_as_firing_then_resolved(
    pipeline: Pipeline,
) -> None:
    demo_url = pipeline.demo.url
    recorder = pipeline.recorder
    load = Load(demo_url, rps=20).start()
    try:
        pipeline.prometheus.wait_for(
            "sum(rate(http_server_request_duration_seconds_count"
            "{job='demo',route='/video/process'}[10s])) > 0",
            timeout=WAIT,
        )
        assert recorder.alerts() == []  # healthy traffic fires nothing

        bad_at = time.monotonic()
        set_error_rate(demo_url, 0.5)
        wait_for(lambda: recorder.find("firing", "critical") is not None, WAIT, "critical firing")
        fired_at, critical = recorder.find("firing", "critical") or (0.0, None)
        assert critical is not None
        assert critical.receiver == "paging"
        assert critical.labels["job"] == "demo"
        assert critical.summary.startswith("/video/process fails ")
        assert critical.annotations["value"].endswith("%")
        assert critical.runbook_url == "https://example.com/runbooks#higherrorrate"

        # Inhibition, for real: the warning is firing in Prometheus and held in Alertmanager...
        pipeline.prometheus.wait_for(
            "ALERTS{alertname='HighErrorRate',severity='warning',alertstate='firing',"
            "route='/video/process'}",
            timeout=WAIT,
        )
        wait_for(lambda: _warning_inhibited(pipeline.alertmanager_url), WAIT, "inhibition")
        # ...and after its group's wait (plus two group intervals) it has not been delivered
        time.sleep(pipeline.warning_group_wait + 2.0)
        assert recorder.find("firing", "warning") is None

        healed_at = time.monotonic()
        set_error_rate(demo_url, 0.0)
        wait_for(lambda: recorder.find("resolved", "critical") is not None, WAIT, "resolved")
        resolved_at, resolved = recorder.find("resolved", "critical") or (0.0, None)
        assert resolved is not None
        assert resolved.fingerprint == critical.fingerprint
        assert resolved.ends_at is not None

        # Once the critical has resolved, the warning is no longer inhibited and may be
        # delivered during the recovery (never while the critical fired); in the end every
        # alert that fired has also resolved.
        def all_resolved() -> bool:
            last: dict[str, str] = {}
            for alert in recorder.alerts():
                last[alert.fingerprint] = alert.status
            return set(last.values()) == {"resolved"}

        wait_for(all_resolved, WAIT, "every alert resolved")
        warning = recorder.find("firing", "warning")
        assert warning is None or warning[0] > healed_at
    finally:
        load.stop()
    print(
        f"\ne2e: first bad request -> critical firing in the callback: {fired_at - bad_at:.1f} s;"
        f" healed -> resolved in the callback: {resolved_at - healed_at:.1f} s;"
        f" {load.sent} requests sent;"
        f" callback saw: {[str(a) for a in recorder.alerts()]}"
    )
