"""Live performance JSON endpoints, an ASGI app to mount in the user's service.

    app.mount("/performance", exporter.live_app("http://prometheus:9090", job="api"))

Every answer is computed from Prometheus' HTTP API (so it covers every replica and survives
restarts), never from in-process history:

========================  ==========================================================
``GET /live``             current rates (last minute), last 5 minutes' summary, firing alerts
``GET /response-time``    response time mean/p50/p95/p99, overall and per route (``?window=5m``)
``GET /latency``          the same for time to first byte (``?window=5m``)
``GET /throughput``       average and peak requests/s, overall and per route (``?window=5m``)
``GET /trends``           trends and insights (``?window=1h&intervals=10``)
``GET /report``           the full report (``?window=`` or ``?start=&end=``, ``&format=``)
========================  ==========================================================

Bad parameters are a 400 with a one-line reason; Prometheus unreachable, slow or failing is a
503 with the reason. Queries run in a thread with bounded timeouts, off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.errors import ExporterError
from exporter.promapi import PrometheusClient, PrometheusError
from exporter.report import thresholds_from
from exporter.reporting.analysis import LATENCY, RESPONSE_TIME, Analysis, job_matchers
from exporter.reporting.formats import MEDIA_TYPES, render
from exporter.reporting.model import Report, window_info
from exporter.reporting.timerange import TimeRange, iso, resolve
from exporter.thresholds import Thresholds, load_thresholds

DEFAULT_WINDOW = "5m"


class _Live:
    def __init__(
        self,
        prometheus_url: str,
        job: str | None,
        thresholds: Thresholds,
        timeout: float,
        budget: float,
    ) -> None:
        PrometheusClient(prometheus_url)  # a bad URL fails now, not at the first request
        self.url = prometheus_url
        self.job = job
        self.thresholds = thresholds
        self.timeout = timeout
        self.budget = budget

    def client(self) -> PrometheusClient:
        return PrometheusClient(self.url, timeout=self.timeout, budget=self.budget)

    def analysis(self, request: Request, default_window: str, intervals: int = 1) -> Analysis:
        params = request.query_params
        time_range = resolve(
            params.get("window"),
            params.get("start"),
            params.get("end"),
            default_window=default_window,
        )
        return Analysis(self.client(), time_range, self.job, intervals)

    # -- endpoints (blocking; run in a thread) ---------------------------------------------------
    def live(self, request: Request) -> dict[str, Any]:
        client = self.client()
        now = time.time()
        summary = Analysis(client, TimeRange(round(now - 300, 3), round(now, 3)), self.job, 1)
        report = summary.report(self.thresholds, trends=False)
        return {
            "time": iso(now),
            "current": self._current(client, summary.scrape_interval, now),
            "last_5m": _summary(report),
            "alerts": self._alerts(client),
        }

    def _current(self, client: PrometheusClient, scrape: float, now: float) -> dict[str, Any]:
        window = f"{max(60, round(4 * scrape))}s"
        m = job_matchers(self.job)
        count = f"{RESPONSE_TIME}_count{{{m}}}"

        def quantile(metric: str) -> str:
            return f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{m}}}[{window}])))"

        queries = {
            "throughput": f"sum(rate({count}[{window}]))",
            "response_time_p95": quantile(RESPONSE_TIME),
            "latency_p95": quantile(LATENCY),
            "error_rate": (
                f'sum(rate({RESPONSE_TIME}_count{{{m},status=~"5.."}}[{window}])) '
                f"/ sum(rate({count}[{window}]))"
            ),
            "active_requests": f"sum(http_server_active_requests{{{m}}})",
            "cpu": (
                f'1 - sum(rate(system_cpu_seconds_total{{{m},mode="idle"}}[{window}])) '
                f"/ sum(system_cpu_logical_cpus{{{m}}})"
            ),
            "memory": (
                f"1 - sum(system_memory_available_bytes{{{m}}}) "
                f"/ sum(system_memory_total_bytes{{{m}}})"
            ),
            "gpu": f"avg(gpu_utilization_ratio{{{m}}})",
        }
        current: dict[str, Any] = {"window": window}
        for name, expr in queries.items():
            current[name] = client.value(expr, at=now)
        if current["throughput"] is not None and current["error_rate"] is None:
            current["error_rate"] = 0.0 if current["throughput"] == 0 else None
        return current

    def _alerts(self, client: PrometheusClient) -> list[dict[str, Any]]:
        firing = []
        for alert in client.alerts():
            labels = alert.get("labels", {})
            if alert.get("state") != "firing":
                continue
            if self.job and labels.get("job", self.job) != self.job:
                continue
            firing.append(
                {
                    "name": labels.get("alertname", ""),
                    "severity": labels.get("severity", ""),
                    "since": alert.get("activeAt"),
                    "summary": alert.get("annotations", {}).get("summary", ""),
                    "labels": labels,
                }
            )
        return firing

    def response_time(self, request: Request) -> dict[str, Any]:
        return self._durations(request, "response_time")

    def latency(self, request: Request) -> dict[str, Any]:
        return self._durations(request, "latency")

    def _durations(self, request: Request, name: str) -> dict[str, Any]:
        analysis = self.analysis(request, DEFAULT_WINDOW)
        metric = RESPONSE_TIME if name == "response_time" else LATENCY
        overall = analysis.durations(metric)
        return {
            "window": window_info(analysis.range.start, analysis.range.end),
            "no_data": overall.count == 0,
            "overall": asdict(overall),
            "routes": {
                route: asdict(analysis.durations(metric, analysis.route_filter(route)))
                for route in analysis.route_names()
            },
        }

    def throughput(self, request: Request) -> dict[str, Any]:
        analysis = self.analysis(request, DEFAULT_WINDOW)
        throughput = analysis.throughput()
        seconds = analysis.range.seconds
        return {
            "window": window_info(analysis.range.start, analysis.range.end),
            "no_data": throughput.average is None,
            **asdict(throughput),
            "requests": analysis.totals().requests,
            "routes": {
                route: analysis.totals(analysis.route_filter(route)).requests / seconds
                for route in analysis.route_names()
            },
        }

    def trends(self, request: Request) -> dict[str, Any]:
        intervals = _intervals(request)
        report = self.analysis(request, "1h", intervals).report(self.thresholds)
        data = report.to_dict()
        return {"window": data["window"], "no_data": report.no_data, **data["trends"]}

    def report(self, request: Request) -> tuple[str, str]:
        fmt = request.query_params.get("format", "json")
        if fmt not in MEDIA_TYPES:
            raise ExporterError(f"format: use one of {', '.join(MEDIA_TYPES)}, got {fmt!r}")
        intervals = _intervals(request)
        report = self.analysis(request, "1h", intervals).report(self.thresholds)
        return render(report, fmt), MEDIA_TYPES[fmt]


def _intervals(request: Request) -> int:
    raw = request.query_params.get("intervals", "10")
    if not raw.isdigit() or not 2 <= int(raw) <= 100:
        raise ExporterError(f"intervals: a whole number from 2 to 100, got {raw!r}")
    return int(raw)


def _summary(report: Report) -> dict[str, Any]:
    data = report.to_dict()
    keep = ("window", "no_data", "totals", "throughput", "response_time", "latency")
    summary = {key: data[key] for key in keep}
    summary["resources"] = data["resources"]
    summary["bottlenecks"] = data["bottlenecks"]
    return summary


def _endpoint(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Run ``handler`` in a thread; errors become 400 (arguments) or 503 (Prometheus)."""

    async def endpoint(request: Request) -> Response:
        try:
            result = await run_in_threadpool(handler, request)
        except PrometheusError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except ExporterError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(result, tuple):
            body, media_type = result
            return Response(body, media_type=media_type)
        return JSONResponse(result)

    return endpoint


def live_app(
    prometheus_url: str,
    job: str | None = None,
    thresholds: str | Path | Thresholds | None = None,
    timeout: float = 5.0,
    budget: float = 20.0,
) -> Starlette:
    """The live endpoints as an ASGI app, to mount under a prefix such as ``/performance``.

    ``job`` restricts every figure to one Prometheus job (the service itself); ``thresholds``
    is a thresholds file or a loaded :class:`~exporter.thresholds.Thresholds` (default:
    prometheus/thresholds.yml when present, else the seed's values); ``timeout`` bounds each
    query and ``budget`` all the queries of one request.
    """
    if isinstance(thresholds, Thresholds):
        loaded = thresholds
    elif thresholds is None:
        loaded = thresholds_from(None)
    else:
        loaded = load_thresholds(thresholds)
    live = _Live(prometheus_url, job, loaded, timeout, budget)
    routes = [
        Route("/live", _endpoint(live.live)),
        Route("/response-time", _endpoint(live.response_time)),
        Route("/latency", _endpoint(live.latency)),
        Route("/throughput", _endpoint(live.throughput)),
        Route("/trends", _endpoint(live.trends)),
        Route("/report", _endpoint(live.report)),
    ]
    return Starlette(routes=routes)
