"""Input series of the generated promtool tests, in promtool's expanding notation.

Samples every minute from t=0. Counters grow linearly from 0, so a ``rate()`` over a window that
starts at or before t=0 is exact, and integer per-minute counts keep every value exact in binary
floating point. ``le`` can be written as the Python client does (``1.0``) or as Go clients do
(``1``), to check that no rule depends on its spelling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from exporter.rulegen import promql
from exporter.rulegen.prommath import rate
from exporter.rulegen.recording import DURATION

JOB = "api"
INSTANCE = "api-1:8000"

Series = dict[str, str]


def labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={promql.string(v)}" for k, v in labels.items())


def series(name: str, labels: Mapping[str, str], values: str) -> Series:
    return {"series": f"{name}{{{labels_text(labels)}}}", "values": values}


def counter(per_minute: float, minutes: int, start: float = 0) -> str:
    return f"{promql.num(start)}+{promql.num(per_minute)}x{minutes}"


def constant(value: float, minutes: int) -> str:
    return f"{promql.num(value)}x{minutes}"


def le_text(bound: float, style: str) -> str:
    """``le`` as a Python client writes it (``1.0``) or as a Go client does (``1``)."""
    if math.isinf(bound):
        return "+Inf"
    return repr(bound) if style == "python" else format(bound, "g")


def histogram(
    metric: str,
    labels: Mapping[str, str],
    bounds: Sequence[float],
    per_bucket: Sequence[float],
    minutes: int,
    style: str = "python",
    idle: bool = False,
) -> list[Series]:
    """Bucket and count series; ``per_bucket`` = requests per minute in each bucket, +Inf last.

    ``idle``: the same counts reached long ago, not growing any more.
    """
    out = []
    running = 0.0
    for bound, count in zip([*bounds, math.inf], per_bucket, strict=True):
        running += count
        le = {**labels, "le": le_text(bound, style)}
        values = constant(running * 100, minutes) if idle else counter(running, minutes)
        out.append(series(f"{metric}_bucket", le, values))
    total = constant(running * 100, minutes) if idle else counter(running, minutes)
    out.append(series(f"{metric}_count", labels, total))
    return out


def growing(per_minute: float, at: int, idle: bool = False) -> str:
    """A counter growing by ``per_minute``, or (idle) the same total reached long ago."""
    return constant(per_minute * 100, at) if idle else counter(per_minute, at)


def request_histogram(
    metric: str,
    labels: Mapping[str, str],
    bounds: Sequence[float],
    counts: Sequence[float],
    at: int,
    idle: bool = False,
) -> list[Series]:
    """A duration histogram and, for the time to first byte, the request count beside it."""
    out = histogram(metric, labels, bounds, counts, at, idle=idle)
    if metric != DURATION:  # traffic is counted by the response-time histogram
        out.append(series(f"{DURATION}_count", labels, growing(sum(counts), at, idle)))
    return out


def status_counts(
    route: str, errors: float, ok: float, at: int, idle: bool = False
) -> list[Series]:
    """Requests per minute of one route answered 500 and 200."""
    count = f"{DURATION}_count"
    return [
        series(count, http_labels(route, "500"), growing(errors, at, idle)),
        series(count, http_labels(route, "200"), growing(ok, at, idle)),
    ]


def cumulative_rates(per_bucket: Sequence[float], at: int, window: int = 5) -> list[float]:
    running, out = 0.0, []
    for count in per_bucket:
        running += count
        out.append(rate(running, at, window))
    return out


def http_labels(route: str, status: str = "200", job: str = JOB) -> dict[str, str]:
    return {"job": job, "instance": INSTANCE, "method": "GET", "route": route, "status": status}
