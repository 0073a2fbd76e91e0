"""The project's ``alertmanager/alertmanager.yml``, rewritten for a run on this machine.

``make run`` and the tests use the very routing tree, inhibition rules and templates that
docker compose uses; only three things change: every webhook receiver posts to the local
receiver's URL instead of ``http://webhook:9095``, template paths become absolute (the copy lives
in a temporary directory), and, for a fast run, the timings shrink:

- ``group_wait`` is divided by ``speedup`` (at least 1 s unless it was 0), so the routes keep
  their order: a warning still waits longer than a critical, which is what lets the critical
  inhibit it (see the comment in alertmanager.yml);
- ``group_interval`` is set to ``group_interval`` when given (resolutions go out that soon);
- ``repeat_interval`` is divided by ``speedup`` too.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml

from exporter.errors import ConfigError
from exporter.yamlfile import read_yaml

#: The file docker compose mounts; found next to the package in a source checkout.
PROJECT_CONFIG = Path(__file__).resolve().parents[2] / "alertmanager" / "alertmanager.yml"

#: Timings for tests and ``make run``: a notification within seconds of the alert, not minutes.
FAST_SPEEDUP = 12.0
FAST_GROUP_INTERVAL = "1s"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^((\d+)(ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as ``1h30m`` or ``10s``."""
    if not isinstance(text, str) or not _DURATION.match(text):
        raise ConfigError(f"not a duration: {text!r} (expected e.g. 30s, 5m, 1h30m)")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{math.ceil(seconds * 1000)}ms"


def load_config(path: Path = PROJECT_CONFIG) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("route"), dict):
        raise ConfigError(f"{path}: not an Alertmanager configuration (no route)")
    return data


def local_config(
    webhook_url: str,
    source: Path = PROJECT_CONFIG,
    speedup: float = 1.0,
    group_interval: str | None = None,
) -> dict[str, Any]:
    """The configuration of ``source`` for a local run (see the module docstring)."""
    if speedup < 1:
        raise ConfigError("speedup must be at least 1")
    config = copy.deepcopy(load_config(source))
    for receiver in config.get("receivers") or []:
        for webhook in receiver.get("webhook_configs") or []:
            webhook["url"] = webhook_url
    base = source.resolve().parent
    config["templates"] = [str(base / t) for t in config.get("templates") or []]
    _retime(config["route"], speedup, group_interval)
    return config


def _retime(route: dict[str, Any], speedup: float, group_interval: str | None) -> None:
    if "group_wait" in route:
        wait = parse_duration(route["group_wait"])
        route["group_wait"] = format_duration(max(wait / speedup, 1.0) if wait else 0.0)
    if "repeat_interval" in route:
        repeat = parse_duration(route["repeat_interval"])
        route["repeat_interval"] = format_duration(max(repeat / speedup, 1.0))
    if group_interval is not None and "group_interval" in route:
        route["group_interval"] = group_interval
    for child in route.get("routes") or []:
        _retime(child, speedup, group_interval)


def write_local_config(
    directory: Path,
    webhook_url: str,
    source: Path = PROJECT_CONFIG,
    fast: bool = True,
) -> Path:
    """Write ``alertmanager.yml`` for a local run into ``directory``; returns its path."""
    if fast:
        config = local_config(webhook_url, source, FAST_SPEEDUP, FAST_GROUP_INTERVAL)
    else:
        config = local_config(webhook_url, source)
    path = directory / "alertmanager.yml"
    header = f"# Written from {source} for a local run; edit that file instead.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
