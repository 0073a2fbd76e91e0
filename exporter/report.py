"""``exporter report``: the performance report of a time window, from Prometheus.

    exporter report --prometheus http://127.0.0.1:9090 --window 24h --format markdown
    exporter report --start 2024-05-01T10:00:00Z --end 2024-05-01T12:00:00Z --format csv

Parses the arguments, computes the report (:mod:`exporter.reporting.analysis`) and prints
it in the chosen format (:mod:`exporter.reporting.formats`). Prometheus unreachable, slow or
failing, and bad arguments, end as one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from exporter.errors import ExporterError
from exporter.promapi import PrometheusClient
from exporter.reporting.analysis import Analysis
from exporter.reporting.formats import FORMATS, render
from exporter.reporting.model import Report
from exporter.reporting.timerange import TimeRange, resolve
from exporter.thresholds import DEFAULT_PATH, Thresholds, load_thresholds, parse_thresholds

DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"


def build_report(
    prometheus: str | PrometheusClient,
    time_range: TimeRange,
    job: str | None = None,
    thresholds: Thresholds | None = None,
    intervals: int = 10,
    timeout: float = 10.0,
    budget: float = 120.0,
) -> Report:
    """The report of ``time_range``; ``thresholds`` default to the seed's values."""
    client = (
        prometheus
        if isinstance(prometheus, PrometheusClient)
        else PrometheusClient(prometheus, timeout=timeout, budget=budget)
    )
    analysis = Analysis(client, time_range, job=job, intervals=intervals)
    return analysis.report(thresholds or parse_thresholds({}))


def thresholds_from(path: str | None) -> Thresholds:
    """The given file; else prometheus/thresholds.yml when it exists; else the seed's values."""
    if path is not None:
        return load_thresholds(path)
    if DEFAULT_PATH.exists():
        return load_thresholds(DEFAULT_PATH)
    return parse_thresholds({})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prometheus", default=DEFAULT_PROMETHEUS, help=f"Prometheus URL ({DEFAULT_PROMETHEUS})"
    )
    parser.add_argument("--window", help="length of the window: 1h, 6h, 24h, 7d ... (default 1h)")
    parser.add_argument("--start", help="start: RFC 3339, unix seconds, or now-2h")
    parser.add_argument("--end", help="end (default now): RFC 3339, unix seconds, or now-1h")
    parser.add_argument("--format", default="markdown", help="json, csv or markdown (markdown)")
    parser.add_argument("--job", help="only this Prometheus job (default: every job)")
    parser.add_argument(
        "--thresholds",
        help=f"thresholds file (default: {DEFAULT_PATH} when present, else the seed's values)",
    )
    parser.add_argument("--intervals", default="10", help="trend intervals, 2 to 100 (10)")
    parser.add_argument("--timeout", default="10", help="seconds per query (10)")
    parser.add_argument("--output", help="write the report to this file instead of stdout")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    if args.format not in FORMATS:
        raise ExporterError(f"--format: use one of {', '.join(FORMATS)}, got {args.format!r}")
    intervals = _number(args.intervals, "--intervals", int, 2, 100)
    timeout = _number(args.timeout, "--timeout", float, 0.1, 300)
    if args.job is not None and not args.job:
        raise ExporterError("--job: must not be empty")
    time_range = resolve(args.window, args.start, args.end)
    thresholds = thresholds_from(args.thresholds)
    # each query is bounded, and so is the whole report (about 30 queries, most take ms)
    client = PrometheusClient(args.prometheus, timeout=timeout, budget=timeout * 12)
    report = build_report(client, time_range, args.job, thresholds, intervals)
    text = render(report, args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ExporterError(f"--output: cannot write {args.output}: {exc.strerror}") from None
    else:
        (out or sys.stdout).write(text)
    return 0


def _number(raw: str, flag: str, kind: type[int] | type[float], low: float, high: float) -> Any:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        raise ExporterError(f"{flag}: {what} from {low:g} to {high:g}, got {raw!r}")
    return value
