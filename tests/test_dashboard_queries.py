"""Every panel query of every dashboard returns data from a real Prometheus.

One Prometheus for the module scrapes the demo (``exporter demo --fake-gpu``, so the GPU panels
have data, with a raised error rate so the error and exception panels do) while the load
generator runs. It loads the project's rules (prometheus/rules/*.yml, where present) and an
always-firing rule, so the ``ALERTS`` series of the alert panel and annotations exists.
Each query is sent as Grafana would send it: variables substituted, range queries for time
series, instant queries for tables and instant targets.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from exporter.promapi import PrometheusClient, PrometheusError
from exporter.stack.servers import (
    ManagedProcess,
    free_port,
    start_prometheus,
    start_python_app,
)
from tests.dashboards import FILES, ROOT, Query, load, queries, regex_escape, substitute

# Grafana's built-in variables for a 1s scrape interval (timeInterval) and a 5 minute range;
# $__rate_interval is at least four scrapes
BUILT_INS = {
    "__rate_interval": "10s",
    "__interval": "2s",
    "__range": "5m",
    "__range_s": "300",
    "datasource": "prometheus",
}
ALL = {"job": ".+", "instance": ".+", "route": ".+"}

WATCHDOG_RULES = {
    "groups": [
        {
            "name": "dashboard-test",
            "interval": "1s",
            "rules": [{"alert": "Watchdog", "expr": "vector(1)", "labels": {"severity": "none"}}],
        }
    ]
}


@dataclass
class Stack:
    client: PrometheusClient
    demo_instance: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("dashboard-queries")
    processes: list[ManagedProcess] = []
    try:
        port = free_port()
        processes.append(
            start_python_app(
                "demo",
                ["exporter", "demo", "--port", str(port), "--fake-gpu", "--error-rate", "0.1"],
                workdir,
                port,
            )
        )
        watchdog = workdir / "watchdog.rules.yml"
        watchdog.write_text(yaml.safe_dump(WATCHDOG_RULES))
        project_rules = sorted(str(p) for p in (ROOT / "prometheus" / "rules").glob("*.yml"))
        rule_files = [str(watchdog), *project_rules]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": rule_files,
            "scrape_configs": [
                {"job_name": "demo", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            ],
        }
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        prometheus = start_prometheus(config_file, workdir)
        processes.append(prometheus)
        client = PrometheusClient(prometheus.url)
        client.wait_for('up{job="demo"} == 1', timeout=60)
        load_argv = [sys.executable, "-m", "exporter", "load", "--url", f"http://127.0.0.1:{port}"]
        load_argv += ["--rps", "20", "--duration", "240", "--seed", "5"]
        processes.append(ManagedProcess("load", load_argv, workdir / "load.log").start())
        yield Stack(client, f"127.0.0.1:{port}")
    finally:
        for process in reversed(processes):
            process.stop()


def _returns_data(client: PrometheusClient, query: Query, expr: str) -> bool:
    if query.instant:
        return bool(client.query(expr))
    end = time.time()
    series = client.query_range(expr, end - 60, end, 2)
    return any(s.points for s in series)


def _missing(client: PrometheusClient, values: dict[str, str], timeout: float) -> list[str]:
    """Queries still without data after polling for up to ``timeout`` seconds."""
    pending = [q for name in FILES for q in queries(name)]
    deadline = time.monotonic() + timeout
    while True:
        still = []
        for query in pending:
            expr = substitute(query.expr, {**BUILT_INS, **values})
            try:
                ok = _returns_data(client, query, expr)
            except PrometheusError as exc:
                raise AssertionError(f"{query}: {exc}") from None
            if not ok:
                still.append(query)
        pending = still
        if not pending or time.monotonic() > deadline:
            return [f"{q} -> {substitute(q.expr, {**BUILT_INS, **values})}" for q in pending]
        time.sleep(1)


def test_every_panel_and_annotation_query_returns_data_with_all_values_selected(
    stack: Stack,
) -> None:
    missing = _missing(stack.client, ALL, timeout=90)
    assert missing == [], "queries without data:\n" + "\n".join(missing)


def test_every_query_returns_data_with_one_job_instance_and_route_selected(stack: Stack) -> None:
    """Single values as Grafana writes them (regex-escaped); /video/process is the route whose
    unhandled exceptions the demo raises."""
    values = {
        "job": "demo",
        "instance": regex_escape(stack.demo_instance),
        "route": regex_escape("/video/process"),
    }
    missing = _missing(stack.client, values, timeout=60)
    assert missing == [], "queries without data:\n" + "\n".join(missing)


def test_the_variable_queries_list_the_scraped_job_instance_and_routes(stack: Stack) -> None:
    dashboard = load("api-performance.json")
    variables = {v["name"]: v["query"] for v in dashboard["templating"]["list"]}
    found = {}
    for name in ("job", "instance", "route"):
        selector = substitute(variables[name].removeprefix("label_values(").rsplit(", ", 1)[0], ALL)
        samples = stack.client.wait_for(f"count by ({name}) ({selector})", timeout=60)
        found[name] = {s.labels[name] for s in samples}
    assert found["job"] == {"demo"}
    assert found["instance"] == {stack.demo_instance}
    assert {"/video/process", "/video/{video_id}", "/health"} <= found["route"]


def test_a_route_with_braces_selected_through_its_escaped_value_matches_only_that_route(
    stack: Stack,
) -> None:
    route = "/video/{video_id}"
    selector = f'http_server_request_duration_seconds_count{{route=~"{regex_escape(route)}"}}'
    expr = f"count by (route) ({selector})"
    samples = stack.client.wait_for(expr, timeout=60)
    assert {s.labels["route"] for s in samples} == {route}
