"""The "API performance" dashboard: throughput, response time, TTFB, errors, routes, operations.

The headline stats are coloured by the levels of ``prometheus/thresholds.yml`` (the same numbers
the alerts fire on); the per-route panels draw them as dashed lines.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from exporter.grafana import API_UID
from exporter.grafana import promql as q
from exporter.grafana.panels import (
    Column,
    Target,
    alerts_table,
    dashboard,
    falling,
    heatmap_panel,
    neutral,
    rising,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from exporter.thresholds import Thresholds

TITLE = "API performance"

REQUESTS_COUNT = f"{q.REQUESTS}_count"


def build(t: Thresholds) -> Dashboard:
    rt, ttfb = t.response_time, t.latency
    d = dashboard(
        TITLE,
        API_UID,
        "Requests, response time, time to first byte and errors of the instrumented API, "
        "per route, with the levels of prometheus/thresholds.yml.",
    )

    d = d.with_row(row("Overview"))
    d = d.with_panel(
        stat_panel(
            "Requests/s",
            "Requests completed per second by the selected jobs, instances and routes. Orange "
            f"below {t.throughput.warning:g} req/s, red below {t.throughput.critical:g} req/s "
            "(throughput levels of thresholds.yml).",
            "reqps",
            Target(q.rate_sum(REQUESTS_COUNT)),
            falling(t.throughput),
        )
    )
    for quant, width in ((0.5, 3), (rt.quantile, 3), (0.99, 3)):
        d = d.with_panel(
            stat_panel(
                f"p{quant * 100:g} response time",
                f"{quant * 100:g}th percentile of the response time (request received to last "
                "byte sent), interpolated inside the histogram bucket. Coloured by the "
                "response_time levels of thresholds.yml.",
                "s",
                Target(q.quantile(quant, q.REQUESTS)),
                rising(rt),
                width=width,
            )
        )
    d = d.with_panel(
        stat_panel(
            f"p{ttfb.quantile * 100:g} TTFB",
            f"{ttfb.quantile * 100:g}th percentile of the time to first byte (request received "
            "to response headers sent): the server-side wait before the client sees anything. "
            "Coloured by the latency levels of thresholds.yml.",
            "s",
            Target(q.quantile(ttfb.quantile, q.TTFB)),
            rising(ttfb),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Error ratio",
            "Share of responses with a 5xx status. Coloured by the error_rate levels of "
            "thresholds.yml.",
            "percentunit",
            Target(q.error_ratio()),
            rising(t.error_rate),
            decimals=2,
        )
    )
    d = d.with_panel(
        stat_panel(
            "In flight",
            "Requests being served right now (no route label: the route is only known once "
            "the router has run). thresholds.yml sets no level for it.",
            "short",
            Target(f"sum({q.selector(q.ACTIVE)})"),
            neutral(),
            width=3,
        )
    )

    d = d.with_row(row("Per route"))
    d = d.with_panel(
        timeseries_panel(
            "Requests/s by route",
            "Completed requests per second, one line per route template.",
            "reqps",
            [Target(q.rate_sum(REQUESTS_COUNT, by=["route"]), "{{route}}")],
        )
    )
    d = d.with_panel(
        timeseries_panel(
            f"p{rt.quantile * 100:g} response time by route",
            f"{rt.quantile * 100:g}th percentile of the response time per route; the dashed "
            "lines are the warning and critical levels of thresholds.yml (routes may override "
            "them there).",
            "s",
            [Target(q.quantile(rt.quantile, q.REQUESTS, by=["route"]), "{{route}}")],
            steps=rising(rt),
        )
    )
    d = d.with_panel(
        timeseries_panel(
            f"p{ttfb.quantile * 100:g} time to first byte by route",
            f"{ttfb.quantile * 100:g}th percentile of the time to first byte per route; the "
            "dashed line is the latency level of thresholds.yml.",
            "s",
            [Target(q.quantile(ttfb.quantile, q.TTFB, by=["route"]), "{{route}}")],
            steps=rising(ttfb),
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Error ratio by route",
            "Share of 5xx responses per route (0 when a route has none); the dashed lines are "
            "the error_rate levels of thresholds.yml.",
            "percentunit",
            [Target(q.error_ratio(by=["route"]), "{{route}}")],
            steps=rising(t.error_rate),
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Response time percentiles",
            "p50, p95 and p99 of the response time over all selected routes.",
            "s",
            [Target(q.quantile(p, q.REQUESTS), f"p{p * 100:g}") for p in (0.5, 0.95, 0.99)],
            steps=rising(rt),
        )
    )
    d = d.with_panel(
        heatmap_panel(
            "Response time distribution",
            "How many requests fell into each histogram bucket per interval: a second band "
            "appearing above the main one is a slow path.",
            q.rate_sum(f"{q.REQUESTS}_bucket", by=["le"], fn="increase"),
        )
    )

    d = d.with_row(row("Breakdown"))
    d = d.with_panel(
        table_panel(
            "Slowest routes",
            "Routes over the whole time range, slowest (p95 response time) first, with p99, "
            "request count and error ratio.",
            "s",
            [
                Column("p95", q.quantile(0.95, q.REQUESTS, ["route"], q.RANGE, "increase"), "s"),
                Column("p99", q.quantile(0.99, q.REQUESTS, ["route"], q.RANGE, "increase"), "s"),
                Column(
                    "requests",
                    q.rate_sum(REQUESTS_COUNT, by=["route"], window=q.RANGE, fn="increase"),
                    "short",
                ),
                Column(
                    "error ratio",
                    q.error_ratio(["route"], q.RANGE, "increase"),
                    "percentunit",
                ),
            ],
            join_on=["route"],
            sort_by="p95",
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Responses by status",
            "Responses per second by status code, stacked (499: the client went away).",
            "reqps",
            [Target(q.rate_sum(REQUESTS_COUNT, by=["status"]), "{{status}}")],
            stacked=True,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Unhandled exceptions",
            "Exceptions that escaped the application (each became a 500), per second, by "
            "route and exception class.",
            "cps",
            [
                Target(
                    q.rate_sum(q.EXCEPTIONS, by=["route", "exception"]),
                    "{{route}} {{exception}}",
                )
            ],
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "In-flight requests by method",
            "Requests being served, per HTTP method.",
            "short",
            [Target(f"sum by (method) ({q.selector(q.ACTIVE)})", "{{method}}")],
        )
    )

    d = d.with_row(row("Operations"))
    d = d.with_panel(
        timeseries_panel(
            "Operations/s",
            "Calls per second of functions tracked with the decorator or context managers, by "
            "operation and outcome (success or error).",
            "ops",
            [
                Target(
                    q.rate_sum(f"{q.OPERATIONS}_count", by=["operation", "outcome"]),
                    "{{operation}} {{outcome}}",
                )
            ],
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Operation p95 duration",
            "95th percentile of the duration of each tracked operation.",
            "s",
            [Target(q.quantile(0.95, q.OPERATIONS, by=["operation"]), "{{operation}}")],
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Operations in flight",
            "Tracked operations running right now.",
            "short",
            [Target(f"sum by (operation) ({q.selector('operation_active')})", "{{operation}}")],
            width=8,
        )
    )

    d = d.with_row(row("Alerts"))
    d = d.with_panel(
        alerts_table(
            "Firing alerts",
            "Alerts Prometheus reports as firing now, whatever their job (its ALERTS series); "
            "the same alerts appear as red annotations on the time series.",
            'ALERTS{alertstate="firing"}',
        )
    )
    return d
