"""The thresholds file (``prometheus/thresholds.yml``): the seed's ``PerformanceThresholds``.

Loaded into frozen dataclasses in base units (seconds, ratios 0..1, requests per second) and
validated strictly: an unknown key, a wrong type, a warning/critical pair in the wrong order, a
time threshold that is not a histogram bucket boundary or a rate window too short to hold
samples is a :class:`ConfigError` whose one line names the file and the key.

Numbers are read as YAML 1.2 writes them: PyYAML (YAML 1.1) leaves ``1e9`` or ``1.5e3`` a string
(it wants a dot and a signed exponent, ``1.0e+9``), so such a string is read as the number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.config import DEFAULT_BUCKETS
from exporter.errors import ConfigError
from exporter.yamlfile import read_yaml

DEFAULT_PATH = Path("prometheus/thresholds.yml")
DEFAULT_RUNBOOK_URL = "docs/runbooks.md"
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# A number as YAML 1.2 (core schema) writes it: 1e9, -2.5E-3, .5, 10
_YAML12_NUMBER = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")

#: Shortest ``rate()`` window of the file (``degradation.window``): 4 scrape intervals of
#: prometheus/prometheus.yml (15s), the rule every window of the rules follows, so that the window
#: always holds enough samples; the generated tests also sample once a minute.
MIN_RATE_WINDOW = "1m"


@dataclass(frozen=True)
class LatencyLevels:
    """A quantile of a duration histogram and its thresholds, in seconds."""

    quantile: float
    warning: float | None
    critical: float | None
    for_: str


@dataclass(frozen=True)
class Levels:
    """Warning/critical levels in base units (ratio 0..1, or req/s)."""

    warning: float | None
    critical: float | None
    for_: str


@dataclass(frozen=True)
class Degradation:
    factor: float
    window: str
    offset: str
    for_: str


@dataclass(frozen=True)
class Slo:
    period: str
    availability: float  # ratio, e.g. 0.995
    latency: float  # ratio of requests faster than latency_threshold
    latency_threshold: float  # seconds


@dataclass(frozen=True)
class RouteThresholds:
    """Overrides for one route; each already merged with the global values."""

    response_time: LatencyLevels
    latency: LatencyLevels
    error_rate: Levels


@dataclass(frozen=True)
class Thresholds:
    buckets: tuple[float, ...]  # seconds
    for_: str
    min_request_rate: float
    response_time: LatencyLevels
    latency: LatencyLevels
    throughput: Levels  # fires BELOW these
    error_rate: Levels
    cpu: Levels
    memory: Levels
    gpu: Levels
    degradation: Degradation
    slo: Slo
    routes: dict[str, RouteThresholds] = field(default_factory=dict)
    runbook_url: str = DEFAULT_RUNBOOK_URL  # where docs/runbooks.md is read; alerts link to it


def load_thresholds(path: str | Path = DEFAULT_PATH) -> Thresholds:
    """Read and validate a thresholds file."""
    path = Path(path)
    data = read_yaml(path)
    try:
        return parse_thresholds(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_thresholds(data: Any) -> Thresholds:
    """Validate the parsed YAML document (a mapping) into :class:`Thresholds`."""
    top = _Section(data, "", _TOP_KEYS)
    buckets_ms = top.get("buckets_ms", [b * 1000 for b in DEFAULT_BUCKETS])
    if not isinstance(buckets_ms, list) or not buckets_ms:
        raise ConfigError("buckets_ms: expected a list of milliseconds")
    buckets = tuple(_number(b, f"buckets_ms[{i}]") / 1000.0 for i, b in enumerate(buckets_ms))
    if list(buckets) != sorted(set(buckets)) or buckets[0] <= 0:
        raise ConfigError("buckets_ms: must be positive and strictly increasing")

    defaults = _Section(top.get("defaults", {}), "defaults", {"for", "min_request_rate"})
    for_ = _duration(defaults.get("for", "5m"), "defaults.for")
    min_rate = _number(defaults.get("min_request_rate", 1), "defaults.min_request_rate")
    if min_rate < 0:
        raise ConfigError("defaults.min_request_rate: must not be negative")

    response_time = _latency(top.get("response_time", {}), "response_time", buckets, for_, None)
    latency = _latency(top.get("latency", {}), "latency", buckets, for_, None)
    error_rate = _percent_levels(top.get("error_rate", {}), "error_rate", for_, rising=True)
    thresholds = Thresholds(
        buckets=buckets,
        for_=for_,
        min_request_rate=min_rate,
        response_time=response_time,
        latency=latency,
        throughput=_rps_levels(top.get("throughput", {}), "throughput", for_),
        error_rate=error_rate,
        cpu=_percent_levels(top.get("cpu", {}), "cpu", for_, rising=True),
        memory=_percent_levels(top.get("memory", {}), "memory", for_, rising=True),
        gpu=_percent_levels(top.get("gpu", {}), "gpu", for_, rising=True),
        degradation=_degradation(top.get("degradation", {}), for_),
        slo=_slo(top.get("slo", {}), buckets),
        runbook_url=_runbook_url(top.get("runbook_url", DEFAULT_RUNBOOK_URL)),
    )
    routes_raw = top.get("routes", {}) or {}
    if not isinstance(routes_raw, dict):
        raise ConfigError("routes: expected a mapping of route template -> overrides")
    for route, overrides in routes_raw.items():
        where = f"routes.{route}"
        if not isinstance(route, str) or not route.startswith("/"):
            raise ConfigError(f"{where}: a route is a template starting with '/'")
        section = _Section(overrides, where, {"response_time", "latency", "error_rate"})
        thresholds.routes[route] = RouteThresholds(
            response_time=_latency(
                section.get("response_time", {}),
                f"{where}.response_time",
                buckets,
                for_,
                response_time,
            ),
            latency=_latency(
                section.get("latency", {}), f"{where}.latency", buckets, for_, latency
            ),
            error_rate=_percent_levels(
                section.get("error_rate", {}), f"{where}.error_rate", for_, True, error_rate
            ),
        )
    return thresholds


_TOP_KEYS = {
    "buckets_ms",
    "defaults",
    "response_time",
    "latency",
    "throughput",
    "error_rate",
    "cpu",
    "memory",
    "gpu",
    "degradation",
    "slo",
    "routes",
    "runbook_url",
}

# Seed defaults (PerformanceThresholds), used for keys the file leaves out.
_SEED = {
    "response_time": (1.0, 2.0),
    "latency": (0.5, None),
    "throughput": (10.0, 5.0),
    "error_rate": (0.05, 0.10),
    "cpu": (0.80, 0.90),
    "memory": (0.85, 0.95),
    "gpu": (0.90, None),
}


class _Section:
    """A mapping whose keys are checked against the allowed set."""

    def __init__(self, data: Any, where: str, allowed: set[str]) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where or 'the file'}: expected a mapping, got {_kind(data)}")
        for key in data:
            if key not in allowed:
                path = f"{where}.{key}" if where else str(key)
                raise ConfigError(f"{path}: unknown key; known: {', '.join(sorted(allowed))}")
        self.data = data
        self.where = where

    def get(self, key: str, default: Any) -> Any:
        return self.data.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.data

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _number(raw: Any, where: str) -> float:
    value = raw
    if isinstance(raw, str) and _YAML12_NUMBER.match(raw):
        value = float(raw)  # 1e9: a number in YAML 1.2, a string to PyYAML
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    return float(value)


def duration_seconds(duration: str) -> float:
    """Seconds in a Prometheus duration of the file, such as ``5m`` (already validated)."""
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _duration(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ConfigError(
            f"{where}: expected a Prometheus duration like 30s, 5m or 1h, got {value!r}"
        )
    return value


def _rate_window(value: Any, where: str) -> str:
    window = _duration(value, where)
    if duration_seconds(window) < duration_seconds(MIN_RATE_WINDOW):
        raise ConfigError(
            f"{where}: {window} is too short for a rate() window; use at least {MIN_RATE_WINDOW} "
            "(4 scrape intervals of prometheus/prometheus.yml)"
        )
    return window


def _bucket(seconds: float, where: str, buckets: tuple[float, ...]) -> float:
    if not any(math.isclose(seconds, b, rel_tol=1e-9) for b in buckets):
        ms = ", ".join(f"{b * 1000:g}" for b in buckets)
        raise ConfigError(
            f"{where}: {seconds * 1000:g} ms is not a histogram bucket boundary; use one of: {ms}"
        )
    return seconds


def _pair_order(warning: float | None, critical: float | None, where: str, rising: bool) -> None:
    if warning is None or critical is None:
        return
    if rising and critical < warning:
        raise ConfigError(f"{where}: critical must not be below warning")
    if not rising and critical > warning:
        raise ConfigError(f"{where}: critical must not be above warning (it fires below)")


def _latency(
    data: Any, where: str, buckets: tuple[float, ...], for_: str, base: LatencyLevels | None
) -> LatencyLevels:
    s = _Section(data, where, {"quantile", "warning_ms", "critical_ms", "for"})
    name = where.rsplit(".", 1)[-1]
    seed_warning, seed_critical = _SEED[name]
    if base is None:
        base = LatencyLevels(0.95, seed_warning, seed_critical, for_)
    quantile = _number(s.get("quantile", base.quantile), s.path("quantile"))
    if not 0 < quantile < 1:
        raise ConfigError(f"{s.path('quantile')}: must be between 0 and 1, e.g. 0.95")
    levels = []
    for key, inherited in (("warning_ms", base.warning), ("critical_ms", base.critical)):
        raw = s.get(key, ...)
        if raw is ...:
            levels.append(inherited)
        elif raw is None:
            levels.append(None)
        else:
            value = _number(raw, s.path(key)) / 1000.0
            levels.append(_bucket(value, s.path(key), buckets))
    warning, critical = levels
    _pair_order(warning, critical, where, rising=True)
    for_here = _duration(s.get("for", base.for_), s.path("for"))
    return LatencyLevels(quantile, warning, critical, for_here)


def _percent_levels(
    data: Any, where: str, for_: str, rising: bool, base: Levels | None = None
) -> Levels:
    s = _Section(data, where, {"warning_percent", "critical_percent", "for"})
    name = where.rsplit(".", 1)[-1]
    if base is None:
        base = Levels(*_SEED[name], for_)
    levels = []
    for key, inherited in (("warning_percent", base.warning), ("critical_percent", base.critical)):
        raw = s.get(key, ...)
        if raw is ...:
            levels.append(inherited)
        elif raw is None:
            levels.append(None)
        else:
            value = _number(raw, s.path(key))
            if not 0 < value <= 100:
                raise ConfigError(f"{s.path(key)}: a percentage between 0 and 100, got {raw!r}")
            levels.append(value / 100.0)
    warning, critical = levels
    _pair_order(warning, critical, where, rising)
    return Levels(warning, critical, _duration(s.get("for", base.for_), s.path("for")))


def _rps_levels(data: Any, where: str, for_: str) -> Levels:
    s = _Section(data, where, {"warning_rps", "critical_rps", "for"})
    seed_warning, seed_critical = _SEED["throughput"]
    levels = []
    for key, inherited in (("warning_rps", seed_warning), ("critical_rps", seed_critical)):
        raw = s.get(key, ...)
        if raw is ...:
            levels.append(inherited)
        elif raw is None:
            levels.append(None)
        else:
            value = _number(raw, s.path(key))
            if value < 0:
                raise ConfigError(f"{s.path(key)}: must not be negative")
            levels.append(value)
    warning, critical = levels
    _pair_order(warning, critical, where, rising=False)
    return Levels(warning, critical, _duration(s.get("for", for_), s.path("for")))


def _degradation(data: Any, for_: str) -> Degradation:
    s = _Section(data, "degradation", {"factor", "window", "offset", "for"})
    factor = _number(s.get("factor", 2), s.path("factor"))
    if factor <= 1:
        raise ConfigError("degradation.factor: must be above 1")
    return Degradation(
        factor=factor,
        window=_rate_window(s.get("window", "10m"), s.path("window")),
        offset=_duration(s.get("offset", "1h"), s.path("offset")),
        for_=_duration(s.get("for", for_), s.path("for")),
    )


def _runbook_url(value: Any) -> str:
    if not isinstance(value, str) or not value or "#" in value or any(c.isspace() for c in value):
        raise ConfigError(
            f"runbook_url: expected the address of docs/runbooks.md without '#', got {value!r}"
        )
    return value


def _slo(data: Any, buckets: tuple[float, ...]) -> Slo:
    keys = {"period", "availability_percent", "latency_percent", "latency_threshold_ms"}
    s = _Section(data, "slo", keys)
    objectives = []
    for key, default in (("availability_percent", 99.5), ("latency_percent", 99.0)):
        value = _number(s.get(key, default), s.path(key))
        if not 0 < value < 100:
            raise ConfigError(f"{s.path(key)}: an objective below 100 percent, e.g. 99.5")
        objectives.append(value / 100.0)
    threshold = _number(s.get("latency_threshold_ms", 1000), s.path("latency_threshold_ms"))
    return Slo(
        period=_duration(s.get("period", "30d"), s.path("period")),
        availability=objectives[0],
        latency=objectives[1],
        latency_threshold=_bucket(threshold / 1000.0, s.path("latency_threshold_ms"), buckets),
    )
