"""What Prometheus computes, replayed in Python for the synthetic input of the generated tests.

The expected values of the generated ``promtool test rules`` files come from here, not from
the rules: ``rate()`` and ``histogram_quantile`` as promql/functions.go and promql/quantile.go
compute them (same operations in the same order, so the floats are the same), and the template
functions the annotations use (``humanizeDuration``, ``humanizePercentage``, ``printf``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence


def rate(per_minute: float, at: int, window: int) -> float:
    """``rate()`` of a counter growing by ``per_minute`` from 0 at t=0, at minute ``at``.

    The window (minutes) either starts on a sample or before the series, whose first value
    is 0, so Prometheus extrapolates by exactly nothing; it still multiplies by a factor
    computed first (promql/functions.go ``extrapolatedRate``), and so does this.
    """
    return increase(per_minute, at, window) * (1.0 / (window * 60))


def increase(per_minute: float, at: int, window: int) -> float:
    """``increase()`` of the same counter."""
    first = max(0, at - window)
    return (per_minute * at - per_minute * first) * 1.0


def histogram_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> float:
    """Prometheus' interpolation (promql/quantile.go) for buckets ``bounds`` + ``+Inf``."""
    total = cumulative[-1]
    rank = q * total
    b = next(i for i, count in enumerate(cumulative) if count >= rank)
    if b == len(cumulative) - 1:
        return bounds[-1]
    start, end, count = 0.0, bounds[b], cumulative[b]
    if b > 0:
        start = bounds[b - 1]
        count -= cumulative[b - 1]
        rank -= cumulative[b - 1]
    return start + (end - start) * (rank / count)


def _g4(value: float) -> str:
    """Go's ``%.4g`` (same digits and exponent form as Python's for finite values)."""
    return f"{value:.4g}"


def humanize_duration(value: float) -> str:
    if value == 0:
        return "0s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        v = abs(value)
        whole = int(v)
        s, m, h, d = whole % 60, (whole // 60) % 60, (whole // 3600) % 24, whole // 86400
        if d:
            return f"{sign}{d}d {h}h {m}m {s}s"
        if h:
            return f"{sign}{h}h {m}m {s}s"
        if m:
            return f"{sign}{m}m {s}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return f"{_g4(value)}{prefix}s"


def humanize_percentage(value: float) -> str:
    return f"{_g4(value * 100)}%"


_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PRINTF = re.compile(r'printf "(%\.\d+f)" \$value')


def render(text: str, labels: Mapping[str, str], value: float) -> str:
    """Expand the few template actions the generated annotations use."""

    def action(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("$labels."):
            return labels[expr.removeprefix("$labels.")]
        if expr == "$value | humanizeDuration":
            return humanize_duration(value)
        if expr == "$value | humanizePercentage":
            return humanize_percentage(value)
        printf = _PRINTF.fullmatch(expr)
        if printf:
            return printf.group(1) % value
        raise ValueError(f"template action not supported by the test generator: {expr}")

    return _TEMPLATE.sub(action, text)
