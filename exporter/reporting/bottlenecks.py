"""The bottleneck rules: compare a report's numbers with the thresholds file.

The seed's rules (high response time, low throughput, high CPU, high memory) plus high latency
(time to first byte), high error rate and GPU saturation. Each finding has a severity
(``critical`` above the critical level, else ``warning``), what was observed against which
threshold, and a recommendation. Latency and error-rate rules stay quiet below the thresholds'
``min_request_rate``, as the alerts do: three slow requests in an hour are not a bottleneck.
"""

from __future__ import annotations

from collections.abc import Callable

from exporter.reporting import humanize
from exporter.reporting.model import Bottleneck, DurationStats, Report
from exporter.thresholds import LatencyLevels, Levels, Thresholds

#: quantile(metric, route or None, q) -> seconds; metric is "response_time" or "latency"
QuantileFn = Callable[[str, str | None, float], float | None]

ALL_ROUTES = "all routes"

RECOMMENDATIONS = {
    "high_response_time": (
        "Profile the slowest routes; cache or precompute results, move long work (such as "
        "video processing) to background jobs, and check the downstream calls and queries "
        "each request waits on."
    ),
    "high_latency": (
        "The server takes long before it sends the first byte: look for blocking calls on the "
        "event loop (run CPU-bound or blocking work in a thread or process pool) and start "
        "streaming responses earlier."
    ),
    "low_throughput": (
        "Check whether traffic dropped (clients, load balancer, upstream) or the service "
        "cannot keep up: add workers or replicas and remove blocking calls from the request path."
    ),
    "high_error_rate": (
        "Look at the failing routes and http_server_exceptions_total by exception class; "
        "roll back recent changes, and protect calls to dependencies with timeouts, retries "
        "and circuit breakers."
    ),
    "high_cpu": (
        "Scale out (more workers or replicas), profile the hot code paths, and move CPU-bound "
        "work off the request path."
    ),
    "high_memory": (
        "Look for leaks and unbounded caches or queues, lower the memory per worker, or give "
        "the host more memory."
    ),
    "gpu_saturation": (
        "Batch the GPU work and queue requests instead of running them all at once, add GPUs, "
        "or move lighter work to the CPU."
    ),
}

_KIND_ORDER = list(RECOMMENDATIONS)


def find_bottlenecks(
    report: Report, thresholds: Thresholds, quantile: QuantileFn | None = None
) -> list[Bottleneck]:
    """Every rule that the report breaks, critical ones first."""
    quantile = quantile or _from_report(report)
    found: list[Bottleneck] = []
    if report.totals.requests:
        busy = report.totals.requests / report.seconds >= thresholds.min_request_rate
        if busy:
            _duration_rule(found, quantile, "response_time", None, thresholds.response_time)
            _duration_rule(found, quantile, "latency", None, thresholds.latency)
            _error_rule(found, ALL_ROUTES, report.totals.error_rate, thresholds.error_rate)
        for route in report.routes:
            if route.throughput is None or route.throughput < thresholds.min_request_rate:
                continue
            levels = thresholds.routes.get(route.route)
            rt = levels.response_time if levels else thresholds.response_time
            lt = levels.latency if levels else thresholds.latency
            errors = levels.error_rate if levels else thresholds.error_rate
            _duration_rule(found, quantile, "response_time", route.route, rt)
            _duration_rule(found, quantile, "latency", route.route, lt)
            _error_rule(found, route.route, route.totals.error_rate, errors)
        average = report.throughput.average
        if average is not None:
            _level_rule(
                found,
                "low_throughput",
                "all routes",
                average,
                thresholds.throughput,
                "requests/s",
                below=True,
                what="Average throughput",
            )
    for name, kind, subject, what in (
        ("cpu", "high_cpu", "host", "Average CPU use"),
        ("memory", "high_memory", "host", "Average memory use"),
        ("gpu", "gpu_saturation", "GPU", "Average GPU utilisation"),
    ):
        usage = report.resources.get(name)
        if usage is not None and usage.average is not None:
            levels = getattr(thresholds, name)
            _level_rule(
                found, kind, subject, usage.average, levels, "ratio", what=what, peak=usage.peak
            )
    return sorted(found, key=lambda b: (b.severity != "critical", _KIND_ORDER.index(b.kind)))


def _from_report(report: Report) -> QuantileFn:
    """Quantiles as the report already has them (p50, p95, p99)."""

    def quantile(metric: str, route: str | None, q: float) -> float | None:
        stats: DurationStats | None = getattr(report, metric)
        if route is not None:
            stats = next((getattr(r, metric) for r in report.routes if r.route == route), None)
        if stats is None:
            return None
        return {0.5: stats.p50, 0.95: stats.p95, 0.99: stats.p99}.get(q)

    return quantile


def _severity(observed: float, warning: float | None, critical: float | None, below: bool) -> str:
    def broken(level: float | None) -> bool:
        return level is not None and (observed < level if below else observed > level)

    if broken(critical):
        return "critical"
    return "warning" if broken(warning) else ""


def _duration_rule(
    found: list[Bottleneck],
    quantile: QuantileFn,
    metric: str,
    route: str | None,
    levels: LatencyLevels,
) -> None:
    observed = quantile(metric, route, levels.quantile)
    if observed is None:
        return
    severity = _severity(observed, levels.warning, levels.critical, below=False)
    if not severity:
        return
    threshold = levels.critical if severity == "critical" else levels.warning
    if threshold is None:  # never: _severity only reports a level that is set
        return
    kind = "high_response_time" if metric == "response_time" else "high_latency"
    name = "response time" if metric == "response_time" else "latency (time to first byte)"
    q = f"p{levels.quantile * 100:g}"
    found.append(
        Bottleneck(
            kind=kind,
            severity=severity,
            subject=route or ALL_ROUTES,
            observed=observed,
            threshold=threshold,
            unit="seconds",
            message=(
                f"{q} {name} of {route or ALL_ROUTES} is {humanize.seconds(observed)}, above the "
                f"{severity} threshold of {humanize.seconds(threshold)}"
            ),
            recommendation=RECOMMENDATIONS[kind],
        )
    )


def _error_rule(
    found: list[Bottleneck], subject: str, observed: float | None, levels: Levels
) -> None:
    if observed is not None:
        _level_rule(
            found,
            "high_error_rate",
            subject,
            observed,
            levels,
            "ratio",
            what=f"Error rate (5xx) of {subject}",
        )


def _level_rule(
    found: list[Bottleneck],
    kind: str,
    subject: str,
    observed: float,
    levels: Levels,
    unit: str,
    what: str,
    below: bool = False,
    peak: float | None = None,
) -> None:
    severity = _severity(observed, levels.warning, levels.critical, below)
    if not severity:
        return
    threshold = levels.critical if severity == "critical" else levels.warning
    if threshold is None:  # never: _severity only reports a level that is set
        return
    side = "below" if below else "above"
    extra = f" (peak {humanize.by_unit(peak, unit)})" if peak is not None else ""
    found.append(
        Bottleneck(
            kind=kind,
            severity=severity,
            subject=subject,
            observed=observed,
            threshold=threshold,
            unit=unit,
            message=(
                f"{what} is {humanize.by_unit(observed, unit)}{extra}, {side} the {severity} "
                f"threshold of {humanize.by_unit(threshold, unit)}"
            ),
            recommendation=RECOMMENDATIONS[kind],
        )
    )
