"""The performance report as data: what :mod:`.analysis` computes and :mod:`.formats` renders.

Base units throughout (seconds, ratios 0..1, requests per second). A value Prometheus had no data
for is ``None`` (JSON ``null``), never NaN: the formats say "no data".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from exporter.reporting.timerange import iso


@dataclass(frozen=True)
class Totals:
    """Requests answered in the window, by outcome."""

    requests: int = 0
    successful: int = 0  # status below 400
    client_errors: int = 0  # 4xx, including 499 (client went away)
    failed: int = 0  # 5xx
    error_rate: float | None = None  # failed / requests


@dataclass(frozen=True)
class DurationStats:
    """Mean and quantiles of a duration histogram, in seconds."""

    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class Throughput:
    average: float | None = None  # requests / `seconds`
    peak: float | None = None  # highest rate over any `peak_window` seconds
    peak_window: float = 0.0
    #: the part of the window the average is over: from where the data begins to the end
    seconds: float = 0.0


@dataclass(frozen=True)
class Usage:
    """A resource's use as a ratio 0..1, over all instances (or GPUs) and the window."""

    average: float | None = None
    peak: float | None = None


@dataclass(frozen=True)
class RouteReport:
    route: str
    methods: tuple[str, ...]
    totals: Totals
    throughput: float | None
    response_time: DurationStats
    latency: DurationStats


@dataclass(frozen=True)
class Bottleneck:
    kind: str  # high_response_time, high_latency, low_throughput, high_error_rate, ...
    severity: str  # critical | warning
    subject: str  # "all routes", a route, "host", "GPU"
    observed: float
    threshold: float
    unit: str  # seconds | ratio | requests/s
    message: str
    recommendation: str


@dataclass(frozen=True)
class Interval:
    """One of the trend intervals ``(start, end]``."""

    start: float
    end: float
    requests: int
    throughput: float | None  # None: the interval ends before the window's data begins
    error_rate: float | None
    response_time_mean: float | None
    response_time_p95: float | None
    latency_p95: float | None
    cpu: float | None
    memory: float | None
    gpu: float | None


@dataclass(frozen=True)
class Trend:
    metric: str  # a field of Interval
    direction: str  # rising | falling | stable | no data
    first: float | None  # mean over the first third of the intervals with data
    last: float | None  # mean over the last third
    change: float | None  # (last - first) / first


@dataclass(frozen=True)
class Trends:
    interval_seconds: float
    intervals: list[Interval]
    trends: list[Trend]
    insights: list[str]


@dataclass(frozen=True)
class Report:
    start: float
    end: float
    job: str | None  # the --job filter, None for every job
    jobs: list[str]  # jobs that had request metrics in the window
    instances: list[str]
    scrape_interval: float
    totals: Totals
    throughput: Throughput
    response_time: DurationStats
    latency: DurationStats
    routes: list[RouteReport]
    resources: dict[str, Usage | None]  # cpu, memory, gpu, gpu_memory; None: not exported
    bottlenecks: list[Bottleneck] = field(default_factory=list)
    trends: Trends | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 3)

    @property
    def no_data(self) -> bool:
        return self.totals.requests == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; times are RFC 3339 strings (plus unix seconds)."""
        fields = asdict(self)
        del fields["start"], fields["end"]
        data = {"window": window_info(self.start, self.end), "no_data": self.no_data, **fields}
        if self.trends is not None:
            for interval in data["trends"]["intervals"]:
                interval["start"] = iso(interval["start"])
                interval["end"] = iso(interval["end"])
        finite: dict[str, Any] = _finite(data)
        return finite


def window_info(start: float, end: float) -> dict[str, Any]:
    """A window as JSON: RFC 3339 times, unix seconds and its length."""
    return {
        "start": iso(start),
        "end": iso(end),
        "start_unix": start,
        "end_unix": end,
        "seconds": round(end - start, 3),
    }


def _finite(value: Any) -> Any:
    """Replace any non-finite float by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
