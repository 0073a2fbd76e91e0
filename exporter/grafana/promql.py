"""The PromQL of the dashboards, built from the metric contract (DESIGN §3) and raw metrics.

Every selector filters on the dashboard variables (``$job``, ``$instance`` and, for metrics that
have a route label, ``$route``), every ``rate`` uses ``$__rate_interval``, and every ratio keeps
its zero (``errors or total * 0``) and drops idle series (``/ (total > 0)``), so a healthy
service shows 0 % and an idle one shows no data rather than NaN.

The queries use raw metrics, not recording rules, so the dashboards work on any Prometheus that
scrapes the exporter, with or without the project's rules loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

REQUESTS = "http_server_request_duration_seconds"
TTFB = "http_server_time_to_first_byte_seconds"
EXCEPTIONS = "http_server_exceptions_total"
ACTIVE = "http_server_active_requests"
OPERATIONS = "operation_duration_seconds"

RATE_INTERVAL = "$__rate_interval"
RANGE = "$__range"

_ROUTE_METRICS = (REQUESTS, TTFB, EXCEPTIONS)
SERVER_ERRORS = 'status=~"5.."'


def selector(metric: str, *matchers: str) -> str:
    """``metric{job=~"$job", instance=~"$instance"[, route=~"$route"], matchers...}``."""
    labels = ['job=~"$job"', 'instance=~"$instance"']
    if metric.startswith(_ROUTE_METRICS):
        labels.append('route=~"$route"')
    labels.extend(matchers)
    return f"{metric}{{{', '.join(labels)}}}"


def _by(labels: Sequence[str]) -> str:
    return f"sum by ({', '.join(labels)}) " if labels else "sum"


def rate_sum(
    metric: str,
    *matchers: str,
    by: Sequence[str] = (),
    window: str = RATE_INTERVAL,
    fn: str = "rate",
) -> str:
    """``sum by (by) (rate(metric{...}[window]))``; ``fn="increase"`` for whole-range totals."""
    return f"{_by(by)}({fn}({selector(metric, *matchers)}[{window}]))"


def quantile(
    q: float,
    histogram: str,
    by: Sequence[str] = (),
    window: str = RATE_INTERVAL,
    fn: str = "rate",
) -> str:
    """A quantile of a histogram, aggregated by ``le`` (and ``by``) before interpolating."""
    buckets = rate_sum(f"{histogram}_bucket", by=[*by, "le"], window=window, fn=fn)
    return f"histogram_quantile({q:g}, {buckets})"


#: a metric and extra matchers, e.g. ``(REQUESTS + "_count", SERVER_ERRORS)``
Selector = tuple[str, ...]


def ratio(
    numerator: Selector,
    denominator: Selector,
    by: Sequence[str] = (),
    window: str = RATE_INTERVAL,
    fn: str = "rate",
) -> str:
    """``numerator / denominator`` of two summed rates: 0 when the numerator has no series,
    no sample (instead of NaN) when the denominator is 0."""
    num = rate_sum(*numerator, by=by, window=window, fn=fn)
    den = rate_sum(*denominator, by=by, window=window, fn=fn)
    return f"({num} or {den} * 0) / ({den} > 0)"


def error_ratio(by: Sequence[str] = (), window: str = RATE_INTERVAL, fn: str = "rate") -> str:
    """Share of responses that are 5xx."""
    return ratio((f"{REQUESTS}_count", SERVER_ERRORS), (f"{REQUESTS}_count",), by, window, fn)


def availability(by: Sequence[str] = (), window: str = RATE_INTERVAL, fn: str = "rate") -> str:
    """Availability SLI: share of responses that are not 5xx."""
    return f"1 - {error_ratio(by, window, fn)}"


def le_matcher(seconds: float) -> str:
    """Match the bucket ``le`` of ``seconds`` whether it is written ``1`` (Prometheus 2) or
    ``1.0`` (Prometheus 3, and prometheus_client)."""
    text = f"{seconds:g}"
    if "." not in text and "e" not in text:
        return f'le=~"{text}(\\\\.0)?"'
    return f'le="{text}"'


def latency_sli(
    threshold: float, by: Sequence[str] = (), window: str = RATE_INTERVAL, fn: str = "rate"
) -> str:
    """Latency SLI: share of requests that completed within ``threshold`` seconds (exact, since
    the threshold is a bucket boundary)."""
    fast = (f"{REQUESTS}_bucket", le_matcher(threshold))
    return ratio(fast, (f"{REQUESTS}_count",), by, window, fn)


def burn_rate(sli: str, objective: float) -> str:
    """How fast the error budget is spent: 1 = exactly the budget over the SLO period."""
    return f"(1 - ({sli})) / {1 - objective:.6g}"


def budget_remaining(sli: str, objective: float) -> str:
    """Share of the error budget left (negative once it is overspent)."""
    return f"1 - {burn_rate(sli, objective)}"
