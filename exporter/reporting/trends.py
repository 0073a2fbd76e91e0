"""Trends over the report's intervals, and the insights they give in plain language.

A metric's direction compares the mean of its first third of intervals (those with data) with
the mean of its last third: a single noisy interval, or a spike in the middle, is not a trend,
and the sentence quotes the two numbers that were compared. It is ``rising`` or ``falling`` when
they differ by at least 20 % of the earlier one and by more than a small absolute amount (a few
milliseconds or percentage points are noise, whatever their ratio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.reporting import humanize
from exporter.reporting.model import Interval, Trend, Trends
from exporter.thresholds import Thresholds

#: relative change between the first and last third that makes a trend
RELATIVE_CHANGE = 0.2
#: fewest intervals with data for a direction
MIN_POINTS = 3


@dataclass(frozen=True)
class _Metric:
    field: str
    name: str  # subject of the insight sentence
    fmt: Callable[[float | None], str]
    noise: float  # absolute change below which there is no trend, in base units


METRICS = (
    _Metric("response_time_p95", "Response time", humanize.seconds, 0.005),
    _Metric("latency_p95", "Latency (time to first byte)", humanize.seconds, 0.005),
    _Metric("throughput", "Throughput", humanize.rate, 0.1),
    _Metric("error_rate", "Error rate", humanize.percent, 0.01),
    _Metric("cpu", "CPU use", humanize.percent, 0.05),
    _Metric("memory", "Memory use", humanize.percent, 0.05),
    _Metric("gpu", "GPU use", humanize.percent, 0.05),
)

_QUALIFIER = {"response_time_p95": "p95 ", "latency_p95": "p95 "}


def direction(
    values: Sequence[float | None], noise: float
) -> tuple[str, float | None, float | None]:
    """(rising | falling | stable | no data, mean of the first third, mean of the last third)."""
    present = [v for v in values if v is not None]
    if len(present) < MIN_POINTS:
        return "no data", None, None
    third = max(1, len(present) // 3)
    early = sum(present[:third]) / third
    late = sum(present[-third:]) / third
    change = late - early
    if abs(change) <= noise or (early and abs(change) / abs(early) < RELATIVE_CHANGE):
        return "stable", early, late
    return ("rising" if change > 0 else "falling"), early, late


def analyse_trends(intervals: Sequence[Interval], thresholds: Thresholds) -> Trends:
    trends = []
    insights = []
    for metric in METRICS:
        values: list[float | None] = [getattr(row, metric.field) for row in intervals]
        if metric.field == "throughput" and not any(row.requests for row in intervals):
            values = [None] * len(values)  # no traffic at all is "no data", not "stable at 0"
        way, early, late = direction(values, metric.noise)
        change = (late - early) / abs(early) if early and late is not None else None
        trends.append(Trend(metric.field, way, early, late, change))
        if way in ("rising", "falling"):
            q = _QUALIFIER.get(metric.field, "")
            insights.append(
                f"{metric.name} is {way}: {q}{metric.fmt(early)} early in the window, "
                f"{q}{metric.fmt(late)} late in it (means of the first and last third)."
            )
    factor = thresholds.degradation.factor
    response = next(t for t in trends if t.metric == "response_time_p95")
    if response.first and response.last and response.last >= factor * response.first:
        insights.append(
            f"Response time degraded {response.last / response.first:.1f}x in the window "
            f"(thresholds.yml calls {factor:g}x a degradation)."
        )
    if not insights:
        if all(t.direction == "no data" for t in trends):
            insights.append("Not enough data in this window for trends.")
        else:
            stable = [
                m.name.lower()
                for m, t in zip(METRICS, trends, strict=True)
                if t.direction == "stable"
            ]
            insights.append(f"No clear trend: {', '.join(stable)} are stable.")
    step = intervals[0].end - intervals[0].start if intervals else 0.0
    return Trends(
        interval_seconds=step, intervals=list(intervals), trends=trends, insights=insights
    )
