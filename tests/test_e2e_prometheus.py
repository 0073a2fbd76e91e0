"""End to end: the demo under load, scraped by a real Prometheus, and ``make run``'s stack."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from exporter.loadgen import Call, generate
from exporter.promapi import PrometheusClient
from exporter.stack.servers import ManagedProcess, free_port, start_prometheus, start_python_app

CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


@pytest.fixture
def demo_and_prometheus(tmp_path: Path) -> Iterator[tuple[ManagedProcess, PrometheusClient]]:
    port = free_port()
    demo = start_python_app(
        "demo", ["exporter", "demo", "--port", str(port), "--error-rate", "0"], tmp_path, port
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(CONFIG.format(port=port))
    prometheus: ManagedProcess | None = None
    try:
        prometheus = start_prometheus(config, tmp_path)
        client = PrometheusClient(prometheus.url)
        client.wait_for("up{job='demo'} == 1", timeout=30)
        yield demo, client
    finally:
        if prometheus is not None:
            prometheus.stop()
        demo.stop()


def test_prometheus_counts_exactly_the_requests_the_test_sent(
    demo_and_prometheus: tuple[ManagedProcess, PrometheusClient],
) -> None:
    demo, prometheus = demo_and_prometheus
    sent = 150

    def process(rng: random.Random) -> Call:
        return Call("POST", "/video/process", {"resolution": "720p"})

    stats = asyncio.run(generate(demo.url, rps=50, requests=sent, mix=process, seed=1))
    assert stats.sent == sent
    assert stats.statuses[200] == sent

    expr = (
        "sum(http_server_request_duration_seconds_count"
        "{job='demo', route='/video/process', method='POST'})"
    )
    samples = prometheus.wait_for(expr, lambda s: bool(s) and s[0].value == sent, timeout=20)
    assert samples[0].value == sent
    ttfb = prometheus.value(
        "sum(http_server_time_to_first_byte_seconds_count{job='demo', route='/video/process'})"
    )
    assert ttfb == sent
    # the demo's default work takes ~40 ms: the p95 must land in a sane bucket range
    p95 = prometheus.value(
        "histogram_quantile(0.95, sum by (le) (increase("
        "http_server_request_duration_seconds_bucket{job='demo', route='/video/process'}[1m])))"
    )
    assert p95 is not None
    assert 0.025 < p95 <= 0.25


def children_of(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_stack_shows_live_numbers_and_stops_leaving_no_process(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """``exporter stack`` (what ``make run`` runs) on free ports, stopped by Ctrl-C or kill."""
    log = tmp_path / "stack.out"
    with log.open("w") as out:
        stack = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "stack",
                "--app-port",
                "0",
                "--prometheus-port",
                "0",
                "--alertmanager-port",
                "0",
                "--rps",
                "30",
                "--every",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        text = ""
        while time.monotonic() < deadline:
            started |= children_of(stack.pid)
            text = log.read_text()
            # wait for a summary where the load has reached Prometheus
            if (
                any(
                    line.strip().startswith("requests/s:") and "req/s" in line
                    for line in text.splitlines()
                )
                and "p95 response:" in text
                and " ms" in text.split("p95 response:")[-1][:30]
            ):
                break
            assert stack.poll() is None, text
            time.sleep(0.5)
        else:
            pytest.fail(f"no live numbers within 90 s:\n{text}")
        assert len(started) >= 3, "demo, prometheus and load generator should be running"
        stack.send_signal(stop_signal)
        assert stack.wait(timeout=30) == 0
    finally:
        if stack.poll() is None:
            stack.kill()
    text = log.read_text()
    assert "stopped." in text
    leftovers = [pid for pid in started if psutil.pid_exists(pid) and _not_zombie(pid)]
    assert leftovers == [], f"processes left behind: {leftovers}"
    workdir = next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if "working directory" in line
    )
    assert not os.path.exists(workdir), "the temporary directory is removed"


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
