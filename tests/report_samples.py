"""Hand-made reports for the tests of rules and formats (the numbers Prometheus would give)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from exporter.reporting.model import (
    DurationStats,
    Interval,
    Report,
    RouteReport,
    Throughput,
    Totals,
    Trends,
    Usage,
)

START = 1_700_000_000.0


def stats(p95: float, count: int = 1000) -> DurationStats:
    return DurationStats(count=count, mean=p95 / 3, p50=p95 / 4, p95=p95, p99=p95 * 1.2)


def route(
    name: str, requests: int, p95: float, failed: int = 0, seconds: float = 3600
) -> RouteReport:
    return RouteReport(
        route=name,
        methods=("POST",),
        totals=Totals(requests, requests - failed, 0, failed, failed / requests),
        throughput=requests / seconds,
        response_time=stats(p95, requests),
        latency=stats(p95 / 2, requests),
    )


def interval(k: int, p95: float | None, requests: int = 100, **kw: Any) -> Interval:
    values: dict[str, Any] = {
        "start": START + k * 360,
        "end": START + (k + 1) * 360,
        "requests": requests,
        "throughput": requests / 360,
        "error_rate": 0.01 if requests else None,
        "response_time_mean": None if p95 is None else p95 / 3,
        "response_time_p95": p95,
        "latency_p95": None if p95 is None else p95 / 2,
        "cpu": 0.3,
        "memory": 0.4,
        "gpu": None,
    }
    values.update(kw)
    return Interval(**values)


def report(**changes: Any) -> Report:
    """An hour of 50 req/s, p95 200 ms, 1 % errors, CPU 30 %, memory 40 %, no GPU."""
    base = Report(
        start=START,
        end=START + 3600,
        job="demo",
        jobs=["demo"],
        instances=["127.0.0.1:8000"],
        scrape_interval=15.0,
        totals=Totals(180_000, 176_000, 2200, 1800, 0.01),
        throughput=Throughput(average=50.0, peak=71.5, peak_window=60.0),
        response_time=stats(0.2, 180_000),
        latency=stats(0.1, 180_000),
        routes=[
            route("/video/process", 120_000, 0.25, failed=1500),
            route("/health", 60_000, 0.01),
        ],
        resources={
            "cpu": Usage(0.3, 0.55),
            "memory": Usage(0.4, 0.42),
            "gpu": None,
            "gpu_memory": None,
        },
        trends=Trends(360.0, [interval(k, 0.2) for k in range(10)], [], ["No clear trend."]),
    )
    return replace(base, **changes)


def empty_report() -> Report:
    """A window in which nothing was recorded."""
    return report(
        totals=Totals(),
        throughput=Throughput(peak_window=60.0),
        response_time=DurationStats(),
        latency=DurationStats(),
        routes=[],
        resources={"cpu": None, "memory": None, "gpu": None, "gpu_memory": None},
        trends=Trends(
            360.0,
            [interval(k, None, requests=0, cpu=None, memory=None) for k in range(10)],
            [],
            ["Not enough data in this window for trends."],
        ),
        notes=["no requests were recorded in this window"],
    )
