"""PromQL building blocks shared by the generated rules.

The one subtle piece is :func:`slower_ratio`: the share of requests slower than a threshold
without naming the threshold's ``le`` label. Prometheus 2.x stores ``le`` as the client wrote it
(``"1"`` from Go, ``"1.0"`` from Python) and 3.x rewrites it (``"1.0"``), so a matcher on its text
breaks on one of them. Since every threshold is a bucket boundary (the thresholds loader checks
it), the bucket is picked by its position instead: cumulative bucket rates grow with ``le``, so
the k-th smallest of them is the rate of requests at or below the k-th boundary. A histogram
whose bucket count differs from ``buckets_ms`` yields no sample rather than a wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.thresholds import duration_seconds


def num(value: float) -> str:
    """A float as PromQL reads it back unchanged for the values a thresholds file holds."""
    return format(value, ".15g")


def seconds(duration: str) -> float:
    """Seconds in a Prometheus duration such as ``5m`` (the loader validated its form)."""
    return duration_seconds(duration)


def duration(value: float) -> str:
    """``5d``, ``90m``, ``1500ms``: seconds as a Prometheus duration in its largest whole unit."""
    ms = round(value * 1000)
    for unit, size in (("y", 31536000), ("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if ms and ms % (size * 1000) == 0:
            return f"{ms // (size * 1000)}{unit}"
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def human_seconds(value: float) -> str:
    """``1s``, ``500ms``, ``2.5s``: a threshold as people write it in a message."""
    if value < 1:
        return f"{value * 1000:g}ms"
    return f"{value:g}s"


def string(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def route_matchers(route: str | None, excluded: Sequence[str] = ()) -> str:
    """``{route="/a"}`` for one route, ``{route!="/a",route!="/b"}`` for all but some, or ``""``."""
    if route is not None:
        return "{route=" + string(route) + "}"
    if not excluded:
        return ""
    return "{" + ",".join("route!=" + string(r) for r in excluded) + "}"


def by(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def quantile(
    metric: str, q: float, labels: Sequence[str], matchers: str = "", w: str = "5m"
) -> str:
    """``histogram_quantile`` over ``sum by (labels, le)``; no sample (not NaN) when idle."""
    keep = by(labels)
    return (
        f"histogram_quantile({num(q)},\n"
        f"  sum by ({keep}, le) (rate({metric}_bucket{matchers}[{w}]))\n"
        f"  and on ({keep}) (sum by ({keep}) (rate({metric}_count{matchers}[{w}])) > 0)\n"
        ")"
    )


def slower_ratio(
    metric: str, labels: Sequence[str], index: int, buckets: int, w: str, matchers: str = ""
) -> str:
    """Share of observations above the bucket boundary number ``index`` (0-based).

    ``buckets`` is the number of finite boundaries; the histogram also has ``+Inf``.
    """
    keep = by(labels)
    rates = f"sum by ({keep}, le) (rate({metric}_bucket{matchers}[{w}]))"
    return (
        "1 - (\n"
        f"  max by ({keep}) (bottomk by ({keep}) ({index + 1}, {rates}))\n"
        f"  / on ({keep}) (sum by ({keep}) (rate({metric}_count{matchers}[{w}])) > 0)\n"
        ")\n"
        f"and on ({keep}) (count by ({keep}) ({rates}) == {buckets + 1})"
    )
