"""``exporter dashboards``: write (or check) ``grafana/dashboards/*.json`` from the Python code.

exporter dashboards            # after editing prometheus/thresholds.yml or the code
exporter dashboards --check    # exit 1 when a committed file differs (the tests do this)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exporter.errors import ExporterError
from exporter.thresholds import DEFAULT_PATH, Thresholds, load_thresholds

DEFAULT_OUT = Path("grafana/dashboards")

#: file name -> module whose ``build(thresholds)`` returns the dashboard builder
DASHBOARDS = {
    "api-performance.json": "exporter.grafana.api_performance",
    "resources.json": "exporter.grafana.resources",
    "slo.json": "exporter.grafana.slo",
}


def render(thresholds: Thresholds) -> dict[str, str]:
    """File name -> dashboard JSON text, for every dashboard."""
    try:
        from grafana_foundation_sdk.cog.encoder import JSONEncoder

        from exporter.grafana.panels import finish
    except ImportError:
        raise ExporterError(
            "generating dashboards needs Grafana's SDK: pip install 'api-perf-exporter[dashboards]'"
        ) from None
    encoder = JSONEncoder(sort_keys=True, indent=2)
    out = {}
    for name, module_name in DASHBOARDS.items():
        build: Callable[[Thresholds], Any] = importlib.import_module(module_name).build
        out[name] = encoder.encode(finish(build(thresholds))) + "\n"
    return out


def stale(out_dir: Path, rendered: dict[str, str]) -> list[str]:
    """The files of ``rendered`` that are missing or differ in ``out_dir``."""
    differ = []
    for name, text in rendered.items():
        path = out_dir / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            differ.append(str(path))
    return differ


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--thresholds", type=Path, default=DEFAULT_PATH, help="thresholds file (colours)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="dashboards directory")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )


def run(args: argparse.Namespace) -> int:
    rendered = render(load_thresholds(args.thresholds))
    differ = stale(args.out, rendered)
    if args.check:
        if differ:
            raise ExporterError(
                f"out of date: {', '.join(differ)}; run: exporter dashboards "
                f"--thresholds {args.thresholds} --out {args.out}"
            )
        sys.stdout.write(f"{len(rendered)} dashboards up to date in {args.out}\n")
        return 0
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (args.out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ExporterError(f"cannot write to {args.out}: {exc.strerror}") from None
    sys.stdout.write(f"wrote {len(rendered)} dashboards to {args.out} ({len(differ)} changed)\n")
    return 0
