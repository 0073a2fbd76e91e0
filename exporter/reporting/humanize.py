"""Numbers as people read them in reports: ``1.73 s``, ``61 ms``, ``4.2 %``, ``12.5 req/s``."""

from __future__ import annotations

NO_DATA = "no data"


def seconds(value: float | None) -> str:
    if value is None:
        return NO_DATA
    if value < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} s"


def percent(value: float | None) -> str:
    if value is None:
        return NO_DATA
    return f"{value * 100:.3g} %" if value < 0.1 else f"{value * 100:.1f} %"


def rate(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.3g} req/s"


def count(value: int) -> str:
    return f"{value:,}"


def by_unit(value: float | None, unit: str) -> str:
    """Format a value whose unit is one of the report's: seconds, ratio, requests/s."""
    if unit == "seconds":
        return seconds(value)
    if unit == "ratio":
        return percent(value)
    return rate(value)
