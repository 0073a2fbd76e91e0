"""Renders a :class:`~exporter.reporting.model.Report` as JSON, CSV or Markdown.

* JSON: the report's dict, base units, ``null`` for no data (never NaN).
* CSV: one "long" table, one number per row (``section, subject, metric, value, unit, ...``),
  so a spreadsheet or ``csv.DictReader`` reads every figure back without knowing the layout.
* Markdown: headings and tables for people (GitHub, a wiki, a ticket), units humanised.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable

from exporter.errors import ExporterError
from exporter.reporting import humanize
from exporter.reporting.model import DurationStats, Report
from exporter.reporting.timerange import human_duration, iso

FORMATS = ("json", "csv", "markdown")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}
CSV_COLUMNS = ("section", "subject", "metric", "value", "unit", "start", "end", "severity", "text")
ALL = "all routes"


def render(report: Report, fmt: str) -> str:
    renderers: dict[str, Callable[[Report], str]] = {
        "json": to_json,
        "csv": to_csv,
        "markdown": to_markdown,
    }
    if fmt not in renderers:
        raise ExporterError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return renderers[fmt](report)


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


# -- CSV -----------------------------------------------------------------------------------------
def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_csv_rows(report))
    return buffer.getvalue()


def _row(
    section: str, subject: str, metric: str, value: float | None, unit: str, **extra: str
) -> dict[str, str]:
    row = {"section": section, "subject": subject, "metric": metric, "unit": unit}
    row["value"] = (
        "" if value is None else repr(float(value)) if isinstance(value, float) else str(value)
    )
    row.update(extra)
    if value is None and "text" not in extra:
        row["text"] = humanize.NO_DATA
    return row


def _csv_rows(report: Report) -> Iterable[dict[str, str]]:
    window = {"start": iso(report.start), "end": iso(report.end)}
    yield _row("window", report.job or "all jobs", "seconds", report.seconds, "seconds", **window)
    yield _row(
        "window", report.job or "all jobs", "scrape_interval", report.scrape_interval, "seconds"
    )
    scopes = [(ALL, report.totals, report.throughput.average, report.response_time, report.latency)]
    scopes += [(r.route, r.totals, r.throughput, r.response_time, r.latency) for r in report.routes]
    for subject, totals, throughput, response, latency in scopes:
        for name in ("requests", "successful", "client_errors", "failed"):
            yield _row("totals", subject, name, getattr(totals, name), "requests")
        yield _row("totals", subject, "error_rate", totals.error_rate, "ratio")
        yield _row("throughput", subject, "average", throughput, "requests/s")
        yield from _duration_rows("response_time", subject, response)
        yield from _duration_rows("latency", subject, latency)
    yield _row("throughput", ALL, "peak", report.throughput.peak, "requests/s")
    yield _row("throughput", ALL, "peak_window", report.throughput.peak_window, "seconds")
    yield _row("throughput", ALL, "seconds", report.throughput.seconds, "seconds")
    for name, usage in report.resources.items():
        yield _row("resources", name, "average", usage.average if usage else None, "ratio")
        yield _row("resources", name, "peak", usage.peak if usage else None, "ratio")
    for b in report.bottlenecks:
        yield _row(
            "bottleneck", b.subject, b.kind, b.observed, b.unit, severity=b.severity, text=b.message
        )
        yield _row(
            "bottleneck",
            b.subject,
            f"{b.kind}_threshold",
            b.threshold,
            b.unit,
            severity=b.severity,
            text=b.recommendation,
        )
    if report.trends is not None:
        for i, interval in enumerate(report.trends.intervals, 1):
            when = {"start": iso(interval.start), "end": iso(interval.end)}
            yield _row("interval", str(i), "requests", interval.requests, "requests", **when)
            for name, unit in _INTERVAL_UNITS:
                yield _row("interval", str(i), name, getattr(interval, name), unit, **when)
        for trend in report.trends.trends:
            yield _row(
                "trend",
                trend.metric,
                "relative_change",
                trend.change,
                "ratio",
                text=trend.direction,
            )
        for insight in report.trends.insights:
            yield _row("insight", "", "", None, "", text=insight)
    for note in report.notes:
        yield _row("note", "", "", None, "", text=note)


_INTERVAL_UNITS = (
    ("throughput", "requests/s"),
    ("error_rate", "ratio"),
    ("response_time_mean", "seconds"),
    ("response_time_p95", "seconds"),
    ("latency_p95", "seconds"),
    ("cpu", "ratio"),
    ("memory", "ratio"),
    ("gpu", "ratio"),
)


def _duration_rows(section: str, subject: str, stats: DurationStats) -> Iterable[dict[str, str]]:
    yield _row(section, subject, "count", stats.count, "requests")
    for name in ("mean", "p50", "p95", "p99"):
        yield _row(section, subject, name, getattr(stats, name), "seconds")


# -- Markdown ------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def to_markdown(report: Report) -> str:
    out = ["# Performance report", ""]
    window = (
        f"{iso(report.start)} to {iso(report.end)} ({human_duration(report.seconds)}, "
        f"scrape interval {human_duration(report.scrape_interval)})"
    )
    jobs = ", ".join(report.jobs) or "none"
    out += _table(
        ["Window", "Job", "Jobs found", "Instances"],
        [[window, report.job or "all", jobs, ", ".join(report.instances) or "none"]],
    )
    if report.no_data:
        out += ["**No data:** " + "; ".join(report.notes or ["no requests in this window"]), ""]
    t = report.totals
    out += ["## Summary", ""]
    out += _table(
        ["Metric", "Value"],
        [
            ["Requests", humanize.count(t.requests)],
            ["Successful (< 400)", humanize.count(t.successful)],
            ["Client errors (4xx)", humanize.count(t.client_errors)],
            ["Failed (5xx)", humanize.count(t.failed)],
            ["Error rate", humanize.percent(t.error_rate)],
            ["Throughput, average", humanize.rate(report.throughput.average)],
            [
                f"Throughput, peak ({human_duration(report.throughput.peak_window)} average)",
                humanize.rate(report.throughput.peak),
            ],
        ],
    )
    for title, attr in (
        ("Response time", "response_time"),
        ("Latency (time to first byte)", "latency"),
    ):
        out += [f"## {title}", ""]
        rows = [_duration_cells(ALL, t.requests, getattr(report, attr))]
        rows += [
            _duration_cells(r.route, r.totals.requests, getattr(r, attr)) for r in report.routes
        ]
        out += _table(["Route", "Requests", "Mean", "p50", "p95", "p99"], rows)
    out += ["## Routes", ""]
    out += _table(
        ["Route", "Methods", "Requests", "Throughput", "Failed (5xx)", "Error rate"],
        [
            [
                r.route,
                ", ".join(r.methods),
                humanize.count(r.totals.requests),
                humanize.rate(r.throughput),
                humanize.count(r.totals.failed),
                humanize.percent(r.totals.error_rate),
            ]
            for r in report.routes
        ]
        or [["none", "", "0", humanize.NO_DATA, "0", humanize.NO_DATA]],
    )
    out += ["## Resources", ""]
    out += _table(
        ["Resource", "Average", "Peak"],
        [
            [
                _RESOURCE_NAMES[name],
                humanize.percent(u.average if u else None),
                humanize.percent(u.peak if u else None),
            ]
            for name, u in report.resources.items()
        ],
    )
    out += ["## Bottlenecks", ""]
    if report.bottlenecks:
        out += _table(
            ["Severity", "Bottleneck", "Subject", "Observed", "Threshold"],
            [
                [
                    b.severity,
                    b.kind.replace("_", " "),
                    b.subject,
                    humanize.by_unit(b.observed, b.unit),
                    humanize.by_unit(b.threshold, b.unit),
                ]
                for b in report.bottlenecks
            ],
        )
        advice = {b.kind: b.recommendation for b in report.bottlenecks}
        out += ["Recommendations:", ""]
        out += [f"- **{kind.replace('_', ' ')}**: {text}" for kind, text in advice.items()] + [""]
    else:
        out += [
            "None found: every figure is within the thresholds."
            if not report.no_data
            else "None: no data.",
            "",
        ]
    if report.trends is not None:
        trends = report.trends
        out += [
            f"## Trends ({len(trends.intervals)} intervals of "
            f"{human_duration(trends.interval_seconds)})",
            "",
        ]
        out += _table(
            [
                "#",
                "End",
                "Requests",
                "Throughput",
                "p95 response",
                "p95 TTFB",
                "Error rate",
                "CPU",
                "Memory",
                "GPU",
            ],
            [
                [
                    str(i),
                    iso(row.end),
                    humanize.count(row.requests),
                    humanize.rate(row.throughput),
                    humanize.seconds(row.response_time_p95),
                    humanize.seconds(row.latency_p95),
                    humanize.percent(row.error_rate),
                    humanize.percent(row.cpu),
                    humanize.percent(row.memory),
                    humanize.percent(row.gpu),
                ]
                for i, row in enumerate(trends.intervals, 1)
            ],
        )
        out += ["### Insights", ""] + [f"- {line}" for line in trends.insights] + [""]
    if report.notes and not report.no_data:
        out += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(out)


_RESOURCE_NAMES = {
    "cpu": "CPU (host)",
    "memory": "Memory (host)",
    "gpu": "GPU utilisation",
    "gpu_memory": "GPU memory",
}


def _duration_cells(subject: str, requests: int, stats: DurationStats) -> list[str]:
    return [
        subject,
        humanize.count(requests),
        humanize.seconds(stats.mean),
        humanize.seconds(stats.p50),
        humanize.seconds(stats.p95),
        humanize.seconds(stats.p99),
    ]
