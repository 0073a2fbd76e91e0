"""One frozen settings object for the exporter, built from keyword arguments, env or YAML.

Everything is validated when the settings are built, so a bad value fails at start-up with
one clear line instead of on the first request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from exporter.errors import ConfigError
from exporter.yamlfile import read_yaml

#: Default buckets (seconds) of both HTTP histograms. Every alert threshold must be one of them.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
)

ENV_PREFIX = "EXPORTER_"


@dataclass(frozen=True)
class Settings:
    """How the exporter instruments an app and serves ``/metrics``."""

    #: Paths (exact, before any ``root_path``) that are served but not recorded.
    excluded_paths: frozenset[str] = frozenset({"/metrics"})
    #: Histogram buckets in seconds for response time, TTFB and operations.
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    #: Where ``instrument()`` mounts the metrics endpoint.
    metrics_path: str = "/metrics"
    #: Record request/response body sizes (two more histograms per route).
    body_sizes: bool = False
    #: Bearer token required on ``/metrics`` (``Authorization: Bearer <token>``).
    bearer_token: str | None = None
    #: Basic-auth user and password required on ``/metrics``.
    basic_auth_user: str | None = None
    basic_auth_password: str | None = None
    #: Serve ``/metrics`` on this separate port instead of inside the app.
    metrics_port: int | None = None
    metrics_addr: str = "0.0.0.0"
    #: Mount points reported by the system collector.
    disk_mountpoints: tuple[str, ...] = ("/",)
    #: Collect host usage (psutil) and GPU usage (NVML) at scrape time.
    system_metrics: bool = True
    gpu_metrics: bool = True
    #: Most distinct ``operation`` label values; later names are recorded as ``_OTHER``.
    max_operations: int = 1000

    def __post_init__(self) -> None:
        # The friendly types (lists, strings: "/health" is one path) whichever way it was built.
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name)))
        _validate(self)

    @classmethod
    def build(cls, **overrides: Any) -> Settings:
        """Settings from keyword arguments, with friendly types (lists, strings) accepted."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return cls(**overrides)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``EXPORTER_*`` variables (``EXPORTER_BEARER_TOKEN``...), then overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse_env(f.name, raw)
        values.update(overrides)
        return cls.build(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Settings:
        """Settings from a YAML mapping whose keys are the field names."""
        data = read_yaml(path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
        try:
            return cls.build(**data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _parse_env(name: str, raw: str) -> Any:
    kind = _FIELD_KINDS[name]
    if kind in ("paths", "floats"):
        return [p.strip() for p in raw.split(",") if p.strip()]
    return raw


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_KINDS.get(name)
    where = f"setting {name!r}"
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOL_TRUE | _BOOL_FALSE:
            return value.lower() in _BOOL_TRUE
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if kind in ("int", "optional_int"):
        if value is None and kind == "optional_int":
            return None
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if kind == "floats":
        items = _as_list(name, value)
        out = []
        for item in items:
            if isinstance(item, bool):
                raise _bad_list(name, item)
            try:
                out.append(float(item))
            except (TypeError, ValueError):
                raise _bad_list(name, item) from None
        return tuple(out)
    if kind == "paths":
        items = _as_list(name, value)
        for item in items:
            if not isinstance(item, str):
                raise _bad_list(name, item)
        return frozenset(items) if name == "excluded_paths" else tuple(items)
    if kind in ("str", "optional_str"):
        if value is None and kind == "optional_str":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


#: How each list setting is written: a list, or one string of comma-separated items (the only
#: form an ``EXPORTER_*`` variable has; spaces around items are ignored, no brackets).
LIST_FORMATS = {
    "buckets": "seconds in increasing order, comma-separated like 0.1,0.5,1 or a list",
    "excluded_paths": "paths starting with '/', comma-separated like /health,/ready or a list",
    "disk_mountpoints": "mount points, comma-separated like /,/data or a list",
}


def _bad_list(name: str, got: Any) -> ConfigError:
    return ConfigError(f"setting {name!r}: expected {LIST_FORMATS[name]}; got {got!r}")


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Iterable):
        return list(value)
    raise _bad_list(name, value)


_FIELD_KINDS: dict[str, str] = {
    "excluded_paths": "paths",
    "buckets": "floats",
    "metrics_path": "str",
    "body_sizes": "bool",
    "bearer_token": "optional_str",
    "basic_auth_user": "optional_str",
    "basic_auth_password": "optional_str",
    "metrics_port": "optional_int",
    "metrics_addr": "str",
    "disk_mountpoints": "paths",
    "system_metrics": "bool",
    "gpu_metrics": "bool",
    "max_operations": "int",
}


def _validate(s: Settings) -> None:
    b = s.buckets
    if not b:
        raise ConfigError("setting 'buckets': at least one bucket is needed")
    if any(not math.isfinite(x) or x <= 0 for x in b):
        raise ConfigError("setting 'buckets': buckets must be finite positive numbers of seconds")
    if list(b) != sorted(set(b)):
        given = ", ".join(f"{x:g}" for x in b)
        raise ConfigError(f"setting 'buckets': buckets must be strictly increasing, got {given}")
    if not s.metrics_path.startswith("/"):
        raise ConfigError(f"setting 'metrics_path': must start with '/', got {s.metrics_path!r}")
    for path in sorted(s.excluded_paths):
        if not path.startswith("/"):
            raise ConfigError(
                f"setting 'excluded_paths': every path must start with '/', got {path!r}; "
                f"expected {LIST_FORMATS['excluded_paths']}"
            )
    if s.metrics_port is not None and not 0 <= s.metrics_port <= 65535:
        raise ConfigError(f"setting 'metrics_port': not a TCP port: {s.metrics_port}")
    if (s.basic_auth_user is None) != (s.basic_auth_password is None):
        raise ConfigError("settings 'basic_auth_user' and 'basic_auth_password' go together")
    if s.bearer_token is not None and not s.bearer_token:
        raise ConfigError("setting 'bearer_token': must not be empty")
    if s.basic_auth_user is not None and not s.basic_auth_user:
        raise ConfigError("setting 'basic_auth_user': must not be empty")
    if s.max_operations < 1:
        raise ConfigError("setting 'max_operations': must be at least 1")


assert set(_FIELD_KINDS) == {f.name for f in fields(Settings)}, "every setting needs a kind"
assert {n for n, k in _FIELD_KINDS.items() if k in ("paths", "floats")} == set(LIST_FORMATS), (
    "every list setting needs its format"
)
