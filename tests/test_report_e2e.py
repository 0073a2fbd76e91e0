"""The report and the live endpoints on real data.

One real Prometheus (1 s scrapes) scrapes two demo APIs for the whole module: ``demo`` gets a
scripted load, a healthy phase then a slow phase (``PUT /demo/config``); ``restarted`` is
restarted in the middle of its window, so that its counters reset. Every figure checked here
comes from that Prometheus.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from starlette.applications import Starlette
from starlette.testclient import TestClient

import exporter
from exporter.cli import build_parser
from exporter.loadgen import generate
from exporter.promapi import PrometheusClient
from exporter.report import run
from exporter.reporting.timerange import MIN_WINDOW
from exporter.stack.servers import ManagedProcess, free_port, start_prometheus, start_python_app

THRESHOLDS = str(Path(__file__).resolve().parent.parent / "prometheus" / "thresholds.yml")
COUNT = "http_server_request_duration_seconds_count"
RPS = 10
PHASE_SECONDS = 12

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [always.rules.yml]
scrape_configs:
  - job_name: demo
    static_configs: [{{targets: ["127.0.0.1:{demo}"]}}]
  - job_name: restarted
    static_configs: [{{targets: ["127.0.0.1:{restarted}"]}}]
"""

ALWAYS_FIRING = """\
groups:
  - name: report-test
    interval: 1s
    rules:
      - alert: ReportTestAlwaysFiring
        expr: vector(1)
        labels: {severity: warning}
        annotations: {summary: "always firing, for the live endpoint test"}
"""


@dataclass
class Stack:
    workdir: Path
    prometheus: ManagedProcess
    demo: ManagedProcess
    restarted_port: int
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def client(self) -> PrometheusClient:
        return PrometheusClient(self.prometheus.url, timeout=10)

    def total(self, job: str, at: float | None = None) -> float:
        return self.client.value(f"sum({COUNT}{{job='{job}'}})", at=at) or 0.0

    def wait_total(self, job: str, expected: float) -> None:
        """Until Prometheus has scraped exactly ``expected`` requests of ``job``."""
        self.client.wait_for(
            f"sum({COUNT}{{job='{job}'}})",
            lambda s: bool(s) and s[0].value == expected,
            timeout=30,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("report-e2e")
    processes: list[ManagedProcess] = []
    try:
        demo_port, restarted_port = free_port(), free_port()
        argv = ["exporter", "demo", "--port", str(demo_port), "--fake-gpu"]
        demo = start_python_app("demo", argv, workdir, demo_port)
        processes.append(demo)
        argv = ["exporter", "demo", "--port", str(restarted_port)]
        processes.append(start_python_app("restarted", argv, workdir, restarted_port))
        (workdir / "always.rules.yml").write_text(ALWAYS_FIRING)
        config = workdir / "prometheus.yml"
        config.write_text(PROMETHEUS_CONFIG.format(demo=demo_port, restarted=restarted_port))
        prometheus = start_prometheus(config, workdir)
        processes.append(prometheus)
        s = Stack(workdir, prometheus, demo, restarted_port, processes)
        s.client.wait_for("count(up == 1) == 2", timeout=60)
        yield s
    finally:
        for process in reversed(processes):
            process.stop()


@dataclass(frozen=True)
class Scenario:
    start: float
    slow_from: float
    end: float
    statuses: Counter[str]  # successful / client_errors / failed, as the test sent them

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def args(self) -> list[str]:
        return ["--start", f"{self.start:.3f}", "--end", f"{self.end:.3f}"]

    def query(self) -> str:
        return f"start={self.start:.3f}&end={self.end:.3f}"


def _classes(statuses: Counter[int]) -> Counter[str]:
    out: Counter[str] = Counter()
    for code, n in statuses.items():
        out["failed" if code >= 500 else "client_errors" if code >= 400 else "successful"] += n
    return out


def _put_config(url: str, **settings: float) -> None:
    body = json.dumps(settings).encode()
    request = urllib.request.Request(url + "/demo/config", data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def scenario(stack: Stack) -> Scenario:
    """A healthy phase, then a slow one (1.5 s per video), at 10 req/s."""
    time.sleep(1.5)  # at least one scrape after up == 1: the window starts from a known count
    start = time.time()
    before = stack.total("demo", at=start)
    time.sleep(0.3)  # nothing the test sends may land in a scrape stamped before `start`
    healthy = asyncio.run(generate(stack.demo.url, RPS, duration=PHASE_SECONDS, seed=1))
    slow_from = time.time()
    _put_config(stack.demo.url, latency_ms=1500, jitter=0.2)
    slow = asyncio.run(generate(stack.demo.url, RPS, duration=PHASE_SECONDS, seed=2))
    assert healthy.failures == slow.failures == 0
    statuses = _classes(healthy.statuses + slow.statuses)
    statuses["successful"] += 1  # the PUT /demo/config
    stack.wait_total("demo", before + sum(statuses.values()))
    return Scenario(start, slow_from, time.time(), statuses)


def _report(stack: Stack, fmt: str, *args: str) -> str:
    parser = build_parser("report")
    parsed = parser.parse_args(
        ["report", "--prometheus", stack.prometheus.url, "--format", fmt, *args]
    )
    out = io.StringIO()
    assert run(parsed, out) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def report(stack: Stack, scenario: Scenario) -> dict[str, Any]:
    text = _report(stack, "json", "--job", "demo", "--thresholds", THRESHOLDS, *scenario.args())
    data: dict[str, Any] = json.loads(text)
    return data


# -- the report ------------------------------------------------------------------------------
def test_the_report_counts_exactly_the_requests_the_test_sent(
    report: dict[str, Any], scenario: Scenario
) -> None:
    totals = report["totals"]
    assert totals["requests"] == scenario.requests
    assert totals["successful"] == scenario.statuses["successful"]
    assert totals["client_errors"] == scenario.statuses["client_errors"]
    assert totals["failed"] == scenario.statuses["failed"]
    assert report["response_time"]["count"] == report["latency"]["count"] == scenario.requests


def test_the_trend_intervals_add_up_to_the_totals(report: dict[str, Any]) -> None:
    intervals = report["trends"]["intervals"]
    assert len(intervals) == 10
    assert sum(i["requests"] for i in intervals) == report["totals"]["requests"]
    assert sum(r["totals"]["requests"] for r in report["routes"]) == report["totals"]["requests"]


@pytest.mark.parametrize("route", [None, "/video/process"])
def test_the_p95_agrees_with_histogram_quantile_computed_by_prometheus(
    stack: Stack, scenario: Scenario, report: dict[str, Any], route: str | None
) -> None:
    window = f"{round((scenario.end - scenario.start) * 1000)}ms"
    matchers = "job='demo'" + (f", route='{route}'" if route else "")
    direct = stack.client.value(
        "histogram_quantile(0.95, sum by (le) "
        f"(increase(http_server_request_duration_seconds_bucket{{{matchers}}}[{window}])))",
        at=scenario.end,
    )
    ours = (
        report["response_time"]["p95"]
        if route is None
        else next(r for r in report["routes"] if r["route"] == route)["response_time"]["p95"]
    )
    assert direct is not None
    assert direct > 1.0  # the slow phase's requests
    # increase() extrapolates each series by its own factor; the estimates stay close
    assert ours == pytest.approx(direct, rel=0.1)


def test_the_slow_phase_is_a_response_time_bottleneck(report: dict[str, Any]) -> None:
    slow = [b for b in report["bottlenecks"] if b["kind"] == "high_response_time"]
    overall = next(b for b in slow if b["subject"] == "all routes")
    assert overall["severity"] in ("warning", "critical")
    assert overall["observed"] > overall["threshold"] >= 1.0
    assert overall["recommendation"]
    assert "/video/process" in {b["subject"] for b in slow}


def test_the_slow_phase_is_a_rising_response_time_trend(report: dict[str, Any]) -> None:
    trends = {t["metric"]: t for t in report["trends"]["trends"]}
    response = trends["response_time_p95"]
    assert response["direction"] == "rising"
    assert response["first"] < 0.5 < 1.0 < response["last"]
    assert report["trends"]["insights"][0].startswith("Response time is rising: p95 ")
    first, last = report["trends"]["intervals"][0], report["trends"]["intervals"][-1]
    assert first["response_time_p95"] < 0.5
    assert last["response_time_p95"] > 1.0


def test_the_report_shows_throughput_host_and_gpu_usage(
    report: dict[str, Any], scenario: Scenario
) -> None:
    throughput = report["throughput"]
    assert throughput["average"] == pytest.approx(scenario.requests / report["window"]["seconds"])
    assert RPS * 0.5 < throughput["peak"] < RPS * 3
    cpu, memory = report["resources"]["cpu"], report["resources"]["memory"]
    assert 0 < cpu["average"] <= cpu["peak"] <= 1
    assert 0 < memory["average"] <= memory["peak"] <= 1
    gpu, gpu_memory = report["resources"]["gpu"], report["resources"]["gpu_memory"]
    assert 0 < gpu["average"] <= gpu["peak"] <= 1  # the simulated GPU follows the load
    assert 0 < gpu_memory["average"] <= gpu_memory["peak"] <= 1
    assert any(i["gpu"] for i in report["trends"]["intervals"])
    assert report["jobs"] == ["demo"]


def test_the_csv_report_parses_back_to_the_json_numbers(
    stack: Stack, scenario: Scenario, report: dict[str, Any]
) -> None:
    text = _report(stack, "csv", "--job", "demo", "--thresholds", THRESHOLDS, *scenario.args())
    rows = list(csv.DictReader(io.StringIO(text)))
    values = {(r["section"], r["subject"], r["metric"]): r["value"] for r in rows}
    assert int(values[("totals", "all routes", "requests")]) == scenario.requests
    assert float(values[("response_time", "all routes", "p95")]) == report["response_time"]["p95"]
    assert float(values[("latency", "all routes", "p99")]) == report["latency"]["p99"]
    severities = {r["severity"] for r in rows if r["section"] == "bottleneck"}
    assert severities & {"warning", "critical"}


def test_the_markdown_report_from_the_command_renders_as_tables(
    stack: Stack, scenario: Scenario
) -> None:
    command = [sys.executable, "-m", "exporter", "report", "--prometheus", stack.prometheus.url]
    command += ["--job", "demo", "--format", "markdown", "--thresholds", THRESHOLDS]
    done = subprocess.run(
        command + scenario.args(), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    html = MarkdownIt("commonmark").enable("table").render(done.stdout)
    assert html.count("<table>") >= 7
    assert f"<td>Requests</td>\n<td>{scenario.requests:,}</td>" in html
    assert "<td>high response time</td>" in html
    assert "Response time is rising" in done.stdout


# -- counters that reset, windows without data -----------------------------------------------
def test_requests_are_counted_exactly_across_a_restart_of_the_service(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.restarted_port}"
    start = time.time()
    time.sleep(0.3)
    before = stack.total("restarted", at=start)
    for _ in range(20):
        urllib.request.urlopen(url + "/health", timeout=10).read()
    stack.wait_total("restarted", before + 20)
    old = next(p for p in stack.processes if p.name == "restarted")
    old.stop()
    stack.client.wait_for("up{job='restarted'} == 0", timeout=30)
    argv = ["exporter", "demo", "--port", str(stack.restarted_port)]
    new = start_python_app("restarted", argv, stack.workdir, stack.restarted_port)
    stack.processes.append(new)
    for _ in range(15):
        urllib.request.urlopen(url + "/health", timeout=10).read()
    stack.wait_total("restarted", 1 + 15)  # the new process: its readiness probe, then ours
    time.sleep(max(0.0, start + MIN_WINDOW + 0.5 - time.time()))  # a report's shortest window
    end = time.time()
    window = f"{round((end - start) * 1000)}ms"
    resets = stack.client.value(f"sum(resets({COUNT}{{job='restarted'}}[{window}]))", at=end)
    assert resets is not None
    assert resets >= 1  # the counters did go back to zero
    text = _report(
        stack, "json", "--job", "restarted", "--start", f"{start:.3f}", "--end", f"{end:.3f}"
    )
    assert json.loads(text)["totals"]["requests"] == 20 + 1 + 15


def test_a_window_that_begins_before_the_data_averages_over_the_part_with_data(
    stack: Stack, scenario: Scenario
) -> None:
    """An hour's report on a service that has run for a minute: its rate, not a 60th of it."""
    started = stack.client.value("min(process_start_time_seconds{job='demo'})")
    assert started is not None
    start, end = started - 3600, scenario.end
    args = ["--job", "demo", "--start", f"{start:.3f}", "--end", f"{end:.3f}"]
    data = json.loads(_report(stack, "json", "--thresholds", THRESHOLDS, *args))
    throughput = data["throughput"]
    # the demo started inside the window: its counters count from its process start
    assert throughput["seconds"] == pytest.approx(end - started, abs=0.5)
    assert throughput["average"] == pytest.approx(
        data["totals"]["requests"] / (end - started), rel=0.02
    )
    assert scenario.requests <= data["totals"]["requests"]
    intervals = data["trends"]["intervals"]
    assert [i["throughput"] for i in intervals[:-1]] == [None] * (len(intervals) - 1)
    assert intervals[-1]["throughput"] == pytest.approx(throughput["average"], rel=0.02)
    trend = {t["metric"]: t["direction"] for t in data["trends"]["trends"]}
    assert trend["throughput"] == "no data"  # one interval with data is not a trend
    assert any(note.startswith("the data begins at ") for note in data["notes"])


def test_a_window_before_prometheus_started_is_no_data_never_nan(stack: Stack) -> None:
    started = stack.client.value("min(process_start_time_seconds{job='demo'})")
    assert started is not None
    args = ["--job", "demo", "--start", f"{started - 600:.3f}", "--end", f"{started - 60:.3f}"]
    text = _report(stack, "json", *args)
    assert "NaN" not in text
    data = json.loads(text)
    assert data["no_data"] is True
    assert data["totals"]["requests"] == 0
    assert data["response_time"]["p95"] is None
    assert data["throughput"]["average"] is None
    assert data["notes"][0] == "Prometheus scraped no target of job 'demo' in this window"
    assert data["bottlenecks"] == []
    markdown = _report(stack, "markdown", *args)
    assert "**No data:** Prometheus scraped no target of job 'demo' in this window" in markdown


def test_a_job_prometheus_does_not_scrape_is_no_data_with_the_reason(
    stack: Stack, scenario: Scenario
) -> None:
    data = json.loads(_report(stack, "json", "--job", "nosuch", *scenario.args()))
    assert data["no_data"] is True
    assert data["notes"] == ["Prometheus scraped no target of job 'nosuch' in this window"]


def test_a_url_that_is_not_prometheus_is_one_line(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = exporter.cli.main(["report", "--prometheus", stack.demo.url, "--window", "1h"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert lines == [
        f"exporter report: error: Prometheus at {stack.demo.url} answered 404: Not Found"
    ]


# -- the live endpoints, mounted in an app ---------------------------------------------------
@pytest.fixture(scope="module")
def live(stack: Stack) -> Iterator[TestClient]:
    app = Starlette()
    app.mount(
        "/performance", exporter.live_app(stack.prometheus.url, job="demo", thresholds=THRESHOLDS)
    )
    with TestClient(app) as client:
        yield client


def test_live_shows_current_numbers_the_last_five_minutes_and_firing_alerts(
    live: TestClient, stack: Stack, scenario: Scenario
) -> None:
    stack.client.wait_for("ALERTS{alertname='ReportTestAlwaysFiring', alertstate='firing'}")
    response = live.get("/performance/live")
    assert response.status_code == 200
    data = response.json()
    assert set(data["current"]) >= {
        "throughput",
        "response_time_p95",
        "error_rate",
        "cpu",
        "memory",
    }
    assert data["current"]["active_requests"] == 0
    assert data["last_5m"]["totals"]["requests"] >= scenario.requests
    assert data["last_5m"]["window"]["seconds"] == 300
    (alert,) = [a for a in data["alerts"] if a["name"] == "ReportTestAlwaysFiring"]
    assert alert["severity"] == "warning"


def test_live_response_time_and_latency_match_the_report(
    live: TestClient, scenario: Scenario, report: dict[str, Any]
) -> None:
    response = live.get(f"/performance/response-time?{scenario.query()}").json()
    assert response["overall"] == report["response_time"]
    assert response["routes"]["/video/process"]["count"] > 0
    latency = live.get(f"/performance/latency?{scenario.query()}").json()
    assert latency["overall"] == report["latency"]


def test_live_throughput_counts_the_requests_sent(live: TestClient, scenario: Scenario) -> None:
    data = live.get(f"/performance/throughput?{scenario.query()}").json()
    assert data["requests"] == scenario.requests
    assert data["average"] == pytest.approx(scenario.requests / data["window"]["seconds"])
    assert sum(data["routes"].values()) == pytest.approx(data["average"])


def test_live_trends_show_the_rising_response_time(live: TestClient, scenario: Scenario) -> None:
    data = live.get(f"/performance/trends?{scenario.query()}&intervals=5").json()
    assert len(data["intervals"]) == 5
    rising = {t["metric"] for t in data["trends"] if t["direction"] == "rising"}
    assert "response_time_p95" in rising


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("csv", "text/csv"), ("markdown", "text/markdown"), ("json", "application/json")],
)
def test_live_report_renders_each_format(
    live: TestClient, scenario: Scenario, fmt: str, media_type: str
) -> None:
    response = live.get(f"/performance/report?{scenario.query()}&format={fmt}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(response.text)))
        requests = next(r for r in rows if r["section"] == "totals" and r["metric"] == "requests")
        assert int(requests["value"]) == scenario.requests
    elif fmt == "json":
        assert response.json()["totals"]["requests"] == scenario.requests
    else:
        assert "<table>" in MarkdownIt("commonmark").enable("table").render(response.text)
