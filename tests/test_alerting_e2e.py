"""End to end on real components: errors in the demo reach a Python alert callback.

demo (uvicorn, errors injected with PUT /demo/config) under load -> a real Prometheus with the
project's configuration template and rules, scraping every second -> a real Alertmanager with
the project's alertmanager.yml (fast timings) -> the webhook receiver -> a registered callback.

The rules are those of tests/test_alerts_e2e.py: the committed hand-written recording rules, and
the generated ones from tests/data/thresholds-fast.yml (the project's thresholds, ``for: 5s``).
The alert under test is ``HighErrorRate``: more than 5 % (warning) or 10 % (critical) of a
route's requests answered 5xx over 5 minutes, with enough traffic.

Timing. Every series here is younger than the 5 minute window, so the window holds all of it:
the route's error ratio is the burst's 5xx answers over every request the route has served.
With H healthy requests, then a burst of B requests failing at rate e, then R healthy ones, it
is e*B / (H + B + R). At 20 req/s H is about 170 (traffic enough for the alerts, then a quiet
check), and at e = 0.5 the ratio passes 5 % after about 1 s of burst and 10 % after about
2 s: the warning starts firing at most a second or two before the critical, well within the 4 s
by which its group_wait exceeds the critical's, so inhibition is what holds it back. The burst
lasts until the critical is delivered and the warning's group_wait has passed (about 15 s, B
about 300, 150 errors); the ratio then drops under 10 % once H + B + R > 1500 and under 5 %
past 3000. Recovery traffic runs at 100 req/s so that takes about 10 s and 25 s (plus a few
seconds of scrape, evaluation and delivery) instead of 50 s and 125 s at 20 req/s.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from exporter import rulegen
from exporter.alerting.alerts import Alert
from exporter.alerting.amconfig import parse_duration, write_local_config
from exporter.alerting.dispatch import AlertDispatcher
from exporter.loadgen import Call, generate
from exporter.promapi import PrometheusClient
from exporter.stack.promconfig import PROMETHEUS_DIR, local_config
from exporter.stack.servers import (
    ManagedProcess,
    free_port,
    start_alertmanager,
    start_prometheus,
    start_python_app,
)
from exporter.thresholds import load_thresholds
from exporter.webhook import AlertReceiver, BackgroundServer, start_receiver_server
from tests.alert_sinks import wait_for

FAST = Path(__file__).parent / "data" / "thresholds-fast.yml"
ROUTE = "/video/process"
WAIT = 90.0  # bounded waits: generous, the machine is shared
LOAD_RPS = 20.0
ERROR_RATE = 0.5
RECOVERY_RPS = 100.0  # dilutes the burst in the 5m window quickly (see the module docstring)
QUIET = 3.0  # seconds of healthy traffic with no alert pending: three rule evaluations


class Recorder:
    """The registered callback: every alert with the time it arrived."""

    def __init__(self) -> None:
        self.got: list[tuple[float, Alert]] = []
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self.got.append((time.monotonic(), alert))

    def find(self, status: str, severity: str) -> tuple[float, Alert] | None:
        """The first HighErrorRate notification of the route with this status and severity."""
        for at, alert in self.received():
            wanted = (alert.name, alert.status, alert.severity, alert.labels.get("route"))
            if wanted == ("HighErrorRate", status, severity, ROUTE):
                return at, alert
        return None

    def received(self) -> list[tuple[float, Alert]]:
        with self._lock:
            return list(self.got)

    def alerts(self) -> list[Alert]:
        return [alert for _, alert in self.received()]

    def firing(self, name: str | None = None) -> set[str]:
        """Names of the alerts (all, or those called ``name``) whose last notice is firing."""
        last: dict[str, Alert] = {}
        for alert in self.alerts():
            if name is None or alert.name == name:
                last[alert.fingerprint] = alert
        return {alert.name for alert in last.values() if alert.firing}


class Load:
    """POST /video/process from a background thread at ``rps`` (changeable) until stopped."""

    def __init__(self, url: str, rps: float) -> None:
        self.url, self.rps = url, rps
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @staticmethod
    def _process(rng: random.Random) -> Call:
        return Call("POST", ROUTE, {"video_id": f"v{rng.randrange(100)}"})

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


def project_rules(rules_dir: Path) -> Path:
    """The committed hand-written rules plus those generated from thresholds-fast.yml."""
    rules_dir.mkdir()
    for path in (PROMETHEUS_DIR / "rules").glob("*.rules.yml"):
        if not rulegen.is_generated(path):
            shutil.copy(path, rules_dir)
    for name, text in rulegen.generate(load_thresholds(FAST), FAST.name).rules.items():
        (rules_dir / name).write_text(text)
    return rules_dir


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
        am_port = free_port()
        alertmanager = start_alertmanager(am_config, tmp_path, am_port)
        started.append(alertmanager)

        prometheus_port = free_port()
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            local_config(
                app_port=app_port,
                prometheus_port=prometheus_port,
                rules_dir=project_rules(tmp_path / "rules"),
                scrape_interval="1s",
                alertmanager_port=am_port,
            )
        )
        # Rules are evaluated from the start, Alertmanager is found about 5 s later (service
        # discovery's first update): the Watchdog's first notification goes nowhere, and by
        # default Prometheus resends a firing alert only after a minute.
        resend = ["--rules.alert.resend-delay=1s"]
        prometheus = start_prometheus(prom_config, tmp_path, prometheus_port, resend)
        started.append(prometheus)
        client = PrometheusClient(prometheus.url)
        client.wait_for("up{job='demo'} == 1", timeout=WAIT)
        prometheus.wait_until(
            lambda: _alertmanagers(prometheus.url) > 0, WAIT, "sending to Alertmanager"
        )
        # The whole chain works: the always-firing Watchdog reaches the callback. Nothing else
        # is firing: before that first scrape no exporter metric exists, and with `for: 5s`
        # ExporterMetricsAbsent may have fired; the scrape has resolved it.
        wait_for(lambda: recorder.firing() == {"Watchdog"}, WAIT, "only the Watchdog firing")
        routes = yaml.safe_load(am_config.read_text())["route"]["routes"]
        (chat,) = [r for r in routes if r["receiver"] == "chat"]
        wait = parse_duration(chat["group_wait"])
        yield Pipeline(demo, client, alertmanager.url, recorder, wait)
    finally:
        for process in reversed(started):
            process.stop()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _alertmanagers(prometheus_url: str) -> int:
    data = _get(prometheus_url + "/api/v1/alertmanagers")["data"]
    return len(data.get("activeAlertmanagers", []))


def _inhibited_warning(alertmanager_url: str) -> dict[str, Any] | None:
    """The route's HighErrorRate warning as Alertmanager holds it, if a critical inhibits it."""
    matchers = ['alertname="HighErrorRate"', 'severity="warning"', f'route="{ROUTE}"']
    query = urllib.parse.urlencode([("inhibited", "true")] + [("filter", m) for m in matchers])
    for alert in _get(f"{alertmanager_url}/api/v2/alerts?{query}"):
        if alert["status"]["inhibitedBy"]:
            return dict(alert)
    return None


def _active_alerts(client: PrometheusClient) -> set[tuple[str, str]]:
    """(alertname, state) of every alert Prometheus has pending or firing."""
    return {(a["labels"]["alertname"], a["state"]) for a in client.alerts()}


def test_errors_under_load_reach_the_callback_as_firing_then_resolved(
    pipeline: Pipeline,
) -> None:
    demo_url = pipeline.demo.url
    recorder = pipeline.recorder
    prometheus = pipeline.prometheus
    before = len(recorder.alerts())
    load = Load(demo_url, LOAD_RPS).start()
    try:
        # Healthy traffic fires nothing but the Watchdog: once the route has the traffic the
        # alerts ask for, no rule is even pending for a few evaluations, and the callback has
        # received nothing else.
        enough = load_thresholds(FAST).min_request_rate
        prometheus.wait_for(
            f'job_route:http_server_requests:rate5m{{job="demo",route="{ROUTE}"}} >= {enough}',
            timeout=WAIT,
        )
        quiet_until = time.monotonic() + QUIET
        seen = _active_alerts(prometheus)
        while time.monotonic() < quiet_until:
            time.sleep(0.5)
            seen |= _active_alerts(prometheus)
        assert seen == {("Watchdog", "firing")}
        assert recorder.alerts()[before:] == []
        assert recorder.firing() == {"Watchdog"}

        bad_at = time.monotonic()
        set_error_rate(demo_url, ERROR_RATE)
        wait_for(lambda: recorder.find("firing", "critical") is not None, WAIT, "critical firing")
        fired_at, critical = recorder.find("firing", "critical") or (0.0, None)
        assert critical is not None
        assert critical.receiver == "paging"
        assert critical.labels["job"] == "demo"
        assert critical.summary == f"{ROUTE} answers 5xx to more than 10% of requests"
        assert critical.description.startswith(f"Route {ROUTE} on job demo answered ")
        assert "% of its requests with a 5xx status" in critical.description
        assert critical.runbook_url == "docs/runbooks.md#higherrorrate"

        # Inhibition, for real: the warning is firing in Prometheus and held in Alertmanager...
        prometheus.wait_for(
            f'ALERTS{{alertname="HighErrorRate",severity="warning",alertstate="firing",'
            f'route="{ROUTE}"}}',
            timeout=WAIT,
        )
        wait_for(
            lambda: _inhibited_warning(pipeline.alertmanager_url) is not None, WAIT, "inhibition"
        )
        warning_held = _inhibited_warning(pipeline.alertmanager_url)
        assert warning_held is not None
        # ...and its group's first notification (group_wait after it arrived, which is as soon
        # as it started firing) has gone by, plus a margin, without delivering it.
        started = datetime.fromisoformat(warning_held["startsAt"]).timestamp()
        time.sleep(max(0.0, started + pipeline.warning_group_wait + 3.0 - time.time()))
        assert recorder.find("firing", "warning") is None

        ratio = f'job_route:http_server_request_errors:ratio_rate5m{{job="demo",route="{ROUTE}"}}'
        healed_ratio = prometheus.value(ratio) or 0.0
        healed_at = time.monotonic()
        set_error_rate(demo_url, 0.0)
        load.rps = RECOVERY_RPS
        wait_for(lambda: recorder.find("resolved", "critical") is not None, WAIT, "resolved")
        resolved_at, resolved = recorder.find("resolved", "critical") or (0.0, None)
        assert resolved is not None
        assert resolved.fingerprint == critical.fingerprint
        assert resolved.ends_at is not None

        # Once the critical has resolved the warning is no longer inhibited and may be
        # delivered during the recovery (never while the critical fired); in the end every
        # HighErrorRate alert that fired has resolved too.
        wait_for(lambda: not recorder.firing("HighErrorRate"), WAIT, "every HighErrorRate resolved")
        all_resolved_at = time.monotonic()
        warning = recorder.find("firing", "warning")
        assert warning is None or warning[0] > healed_at
    finally:
        load.stop()
    others = sorted({str(a) for a in recorder.alerts() if a.name != "HighErrorRate"})
    print(
        f"\ne2e: first bad request -> critical firing in the callback: {fired_at - bad_at:.1f} s;"
        f" 5xx ratio when healed {healed_ratio:.0%};"
        f" healed -> critical resolved in the callback: {resolved_at - healed_at:.1f} s,"
        f" every HighErrorRate resolved: {all_resolved_at - healed_at:.1f} s;"
        f" {load.sent} requests sent;"
        f" HighErrorRate at the callback: "
        f"{[str(a) for a in recorder.alerts() if a.name == 'HighErrorRate']};"
        f" others: {others}"
    )
