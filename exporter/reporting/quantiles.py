"""Quantiles from cumulative histogram bucket counts, interpolated like ``histogram_quantile``.

The report computes exact bucket increases itself (see :mod:`exporter.reporting.counters`), so
it also estimates quantiles itself, with Prometheus' rules, so that its numbers read the same as a
Grafana panel's: linear interpolation inside the bucket that holds the rank, the lower edge of
the first bucket is 0, a rank in the ``+Inf`` bucket returns the highest finite bound, and
counts that decrease with ``le`` (a scrape caught between two buckets' updates) are raised to
keep the histogram monotonic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile of ``{upper bound: cumulative count}``; None when it has no data."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile must be between 0 and 1, got {q}")
    bounds = sorted(buckets)
    if len(bounds) < 2 or not math.isinf(bounds[-1]):
        return None
    counts, running = [], 0.0
    for bound in bounds:
        running = max(running, buckets[bound])
        counts.append(running)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    lower, below = (bounds[b - 1], counts[b - 1]) if b > 0 else (0.0, 0.0)
    inside = counts[b] - below
    if inside <= 0:
        return bounds[b]
    return lower + (bounds[b] - lower) * (rank - below) / inside


def share_above(threshold: float, buckets: Mapping[float, float]) -> float | None:
    """Exact share of observations above ``threshold`` when it is a bucket bound."""
    total = buckets.get(math.inf, 0.0)
    if total <= 0 or threshold not in buckets:
        return None
    return max(0.0, 1.0 - buckets[threshold] / total)
