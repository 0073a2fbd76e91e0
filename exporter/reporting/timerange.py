"""The time range of a report: parsing ``--window``/``--start``/``--end`` and equal intervals.

Times are unix seconds rounded to the millisecond, Prometheus' own resolution, so that the
boundaries sent to Prometheus are exactly the ones the report later talks about. Every parsing
problem is an :class:`ExporterError` whose one line names the argument and shows what would work.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from exporter.errors import ExporterError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_RELATIVE = re.compile(r"^now(?:-(.+))?$")

#: shortest window a report accepts: one second per trend interval
MIN_WINDOW = 10.0


@dataclass(frozen=True)
class TimeRange:
    """The window ``(start, end]`` in unix seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 3)

    def boundaries(self, intervals: int) -> list[float]:
        """``intervals + 1`` equally spaced times from start to end (millisecond steps).

        When the window is not a whole number of milliseconds per interval, the start moves
        forward by less than ``intervals`` milliseconds so that every step is equal.
        """
        if intervals < 1:
            raise ExporterError("the number of intervals must be at least 1")
        step_ms = math.floor(round(self.seconds * 1000) / intervals)
        if step_ms < 1:
            raise ExporterError(f"a {self.seconds:g}s window cannot be cut into {intervals} parts")
        end_ms = round(self.end * 1000)
        return [(end_ms - (intervals - i) * step_ms) / 1000 for i in range(intervals + 1)]


def parse_duration(text: str, what: str = "--window") -> float:
    """``30s``, ``5m``, ``1h``, ``1h30m``, ``7d`` -> seconds."""
    raw = text.strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or not raw or total <= 0:
        raise ExporterError(
            f"{what}: expected a duration like 30s, 15m, 1h, 24h or 7d, got {text!r}"
        )
    return total


def parse_time(text: str, what: str, now: float) -> float:
    """A point in time: unix seconds, RFC 3339 / ISO 8601, ``now`` or ``now-1h``.

    An ISO time without a zone is local time, as ``date`` prints it.
    """
    raw = text.strip()
    relative = _RELATIVE.match(raw)
    if relative:
        ago = relative.group(1)
        return now - (parse_duration(ago, what) if ago else 0.0)
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value < 0:
            raise ExporterError(f"{what}: not a valid unix time: {text!r}")
        return value
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ExporterError(
            f"{what}: expected a time like 2024-05-01T10:00:00Z, a unix time, now or now-1h; "
            f"got {text!r}"
        ) from None
    return parsed.timestamp()


def resolve(
    window: str | None = None,
    start: str | None = None,
    end: str | None = None,
    now: float | None = None,
    default_window: str = "1h",
) -> TimeRange:
    """Two of window/start/end (or one, with ``end`` defaulting to now) -> a :class:`TimeRange`."""
    now = time.time() if now is None else now
    if window is not None and start is not None and end is not None:
        raise ExporterError("give --window with --start or with --end, not both")
    if start is None and window is None and end is not None:
        raise ExporterError("--end needs --start or --window")
    end_at = parse_time(end, "--end", now) if end is not None else now
    if start is not None:
        start_at = parse_time(start, "--start", now)
        if window is not None:
            end_at = start_at + parse_duration(window)
    else:
        start_at = end_at - parse_duration(window or default_window)
    # a report cannot know the future: an end after now is now
    start_at, end_at = round(start_at, 3), round(min(end_at, now), 3)
    if start_at >= end_at:
        raise ExporterError(f"--start ({iso(start_at)}) must be before --end ({iso(end_at)})")
    if end_at - start_at < MIN_WINDOW:
        raise ExporterError(f"the window must be at least {MIN_WINDOW:g}s long")
    return TimeRange(start_at, end_at)


def iso(t: float) -> str:
    """UTC time as RFC 3339 with milliseconds only when they are not zero."""
    moment = datetime.fromtimestamp(t, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if t % 1 else "seconds")
    return text.replace("+00:00", "Z")


def human_duration(seconds: float) -> str:
    """3600 -> ``1h``; 90 -> ``1m30s``; 4.5 -> ``4.5s``."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    parts = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts[:2])
