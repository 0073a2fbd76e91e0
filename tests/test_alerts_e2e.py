"""The project's rules on a real Prometheus scraping the demo under load.

One Prometheus for the module: first the healthy demo, which must fire nothing but the
Watchdog, then the same demo slowed down through PUT /demo/config, which must fire
HighResponseTime. The recording rules are the committed files; the alert rules come from
``exporter rules`` run on tests/data/thresholds-fast.yml (the same thresholds, ``for: 5s``).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exporter import rulegen
from exporter.promapi import PrometheusClient
from exporter.stack.promconfig import PROMETHEUS_DIR, local_config
from exporter.stack.servers import (
    ManagedProcess,
    free_port,
    start_blackbox,
    start_prometheus,
    start_python_app,
)
from exporter.thresholds import load_thresholds

FAST = Path(__file__).parent / "data" / "thresholds-fast.yml"
HOLD = 5  # seconds: the `for:` of thresholds-fast.yml


@dataclass
class Stack:
    prometheus: PrometheusClient
    demo_url: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("alerts-e2e")
    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    for path in (PROMETHEUS_DIR / "rules").glob("*.rules.yml"):
        if not rulegen.is_generated(path):
            shutil.copy(path, rules_dir)
    for name, text in rulegen.generate(load_thresholds(FAST), FAST.name).rules.items():
        (rules_dir / name).write_text(text)
    processes: list[ManagedProcess] = []
    try:
        app_port, blackbox_port, prometheus_port = free_port(), free_port(), free_port()
        demo = start_python_app(
            "demo",
            ["exporter", "demo", "--port", str(app_port), "--error-rate", "0"],
            workdir,
            app_port,
        )
        processes.append(demo)
        processes.append(start_blackbox(PROMETHEUS_DIR / "blackbox.yml", workdir, blackbox_port))
        config = workdir / "prometheus.yml"
        config.write_text(
            local_config(
                app_port=app_port,
                prometheus_port=prometheus_port,
                rules_dir=rules_dir,
                scrape_interval="1s",
                blackbox_port=blackbox_port,
            )
        )
        prometheus = start_prometheus(config, workdir, prometheus_port)
        processes.append(prometheus)
        client = PrometheusClient(prometheus.url)
        client.wait_for('up{job=~"demo|blackbox"} == 1', lambda s: len(s) == 2, timeout=60)
        load = ["exporter", "load", "--url", demo.url, "--rps", "30", "--duration", "600"]
        processes.append(
            ManagedProcess("load", [sys.executable, "-m", *load], workdir / "load.log").start()
        )
        yield Stack(client, demo.url)
    finally:
        for process in reversed(processes):
            process.stop()


def active(client: PrometheusClient) -> list[dict[str, Any]]:
    return [{"state": a["state"], **a["labels"], **a["annotations"]} for a in client.alerts()]


def test_healthy_demo_under_load_fires_nothing_but_the_watchdog(stack: Stack) -> None:
    client = stack.prometheus
    # until the route has this much traffic, the latency and error alerts cannot fire at all
    enough = load_thresholds(FAST).min_request_rate
    client.wait_for(
        f'job_route:http_server_requests:rate5m{{job="demo",route="/video/process"}} >= {enough}',
        timeout=120,
    )
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 3 * HOLD
    while time.monotonic() < deadline:
        seen |= {(a["alertname"], a["state"]) for a in active(client)}
        time.sleep(1)
    assert seen == {("Watchdog", "firing")}
    p95 = client.query('job_route:http_server_request_duration_seconds:p95_5m{job="demo"}')
    assert p95, "the response-time rules had no value to compare"
    assert max(s.value for s in p95) < 1
    assert client.value('probe_success{job="blackbox"}') == 1


def test_injected_slowness_fires_high_response_time(stack: Stack) -> None:
    request = urllib.request.Request(
        stack.demo_url + "/demo/config",
        data=json.dumps({"latency_ms": 1500, "jitter": 0}).encode(),
        method="PUT",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["latency_ms"] == 1500

    def slow_route(alert: dict[str, Any]) -> bool:
        return (
            alert["alertname"] == "HighResponseTime"
            and alert["route"] == "/video/process"
            and alert["state"] == "firing"
        )

    deadline = time.monotonic() + 120
    alerts = active(stack.prometheus)
    while not any(slow_route(a) for a in alerts) and time.monotonic() < deadline:
        time.sleep(1)
        alerts = active(stack.prometheus)
    firing = [a for a in alerts if slow_route(a)]
    assert len(firing) == 1, alerts
    alert = firing[0]
    assert alert["severity"] == "warning"  # p95 about 1.5 s: over 1 s, under the critical 2 s
    assert alert["job"] == "demo"
    assert "route /video/process on job demo is 1." in alert["description"]
    assert alert["runbook_url"] == "docs/runbooks.md#highresponsetime"
    # the batch route has its own thresholds (2 s / 5 s) and about 1.5 s: it stays quiet
    assert not [
        a
        for a in alerts
        if a["alertname"] == "HighResponseTime" and a["route"] == "/video/process/batch"
    ]
