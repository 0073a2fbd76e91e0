import csv
import io
import json
import math

import pytest
from markdown_it import MarkdownIt

from exporter.errors import ExporterError
from exporter.reporting.formats import CSV_COLUMNS, render
from exporter.reporting.model import Bottleneck
from tests.report_samples import empty_report, report, route

SLOW = Bottleneck(
    kind="high_response_time",
    severity="critical",
    subject="/video/{video_id}",
    observed=2.5,
    threshold=2.0,
    unit="seconds",
    message="p95 response time of /video/{video_id} is 2.5 s",
    recommendation="Profile | cache",
)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_json_is_the_report_in_base_units_with_rfc3339_times() -> None:
    data = json.loads(render(report(), "json"))
    assert data["window"]["start"] == "2023-11-14T22:13:20Z"
    assert data["window"]["seconds"] == 3600
    assert data["totals"]["requests"] == 180_000
    assert data["response_time"]["p95"] == 0.2
    assert data["resources"]["gpu"] is None
    assert data["no_data"] is False
    assert len(data["trends"]["intervals"]) == 10


def test_json_of_an_empty_window_is_null_and_says_no_data_never_nan() -> None:
    text = render(empty_report(), "json")
    assert "NaN" not in text
    assert "Infinity" not in text
    data = json.loads(text)
    assert data["no_data"] is True
    assert data["response_time"]["p95"] is None
    assert data["totals"]["error_rate"] is None


def test_csv_parses_back_to_the_same_numbers() -> None:
    r = report(bottlenecks=[SLOW])
    parsed = rows(render(r, "csv"))
    assert list(parsed[0]) == list(CSV_COLUMNS)

    def value(section: str, subject: str, metric: str) -> float:
        (row,) = [
            x
            for x in parsed
            if (x["section"], x["subject"], x["metric"]) == (section, subject, metric)
        ]
        return float(row["value"])

    assert value("totals", "all routes", "requests") == r.totals.requests
    assert value("response_time", "all routes", "p95") == r.response_time.p95
    assert value("response_time", "/video/process", "p99") == r.routes[0].response_time.p99
    assert value("throughput", "all routes", "peak") == r.throughput.peak
    assert value("resources", "cpu", "average") == 0.3
    assert value("interval", "10", "response_time_p95") == 0.2
    (slow,) = [x for x in parsed if x["metric"] == "high_response_time"]
    assert (slow["severity"], slow["subject"], float(slow["value"])) == (
        "critical",
        SLOW.subject,
        2.5,
    )
    for row in parsed:
        assert row["value"] == "" or math.isfinite(float(row["value"]))


def test_csv_leaves_missing_values_empty_and_says_no_data() -> None:
    parsed = rows(render(empty_report(), "csv"))
    (p95,) = [x for x in parsed if x["section"] == "response_time" and x["metric"] == "p95"]
    assert (p95["value"], p95["text"]) == ("", "no data")


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table as rendered HTML would show it: rows of cell texts, header first."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    found: list[list[list[str]]] = []
    in_cell = False
    for token in tokens:
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            found[-1].append([])
        elif token.type in ("th_open", "td_open"):
            in_cell = True
        elif token.type in ("th_close", "td_close"):
            in_cell = False
        elif token.type == "inline" and in_cell:
            found[-1][-1].append(token.content)
    return found


def test_markdown_renders_summary_routes_bottlenecks_and_trends_as_tables() -> None:
    text = render(report(bottlenecks=[SLOW]), "markdown")
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<table>") == 8
    found = tables(text)
    summary = next(t for t in found if t[0] == ["Metric", "Value"])
    assert ["Requests", "180,000"] in summary
    response = next(t for t in found if t[0][:2] == ["Route", "Requests"])
    assert response[1][0] == "all routes"
    assert response[1][4] == "200 ms"
    bottlenecks = next(t for t in found if t[0][0] == "Severity")
    assert bottlenecks[1][:3] == ["critical", "high response time", "/video/{video_id}"]
    assert bottlenecks[1][4] == "2 s"
    assert "- **high response time**: Profile | cache" in text
    trends = next(t for t in found if t[0][0] == "#")
    assert len(trends) == 11


def test_a_pipe_in_a_route_stays_inside_its_markdown_cell() -> None:
    text = render(report(routes=[route("/a|b", 100, 0.1)]), "markdown")
    routes = next(t for t in tables(text) if t[0][:2] == ["Route", "Methods"])
    assert routes[1][:3] == ["/a|b", "POST", "100"]
    assert len(routes[1]) == len(routes[0])


def test_markdown_of_an_empty_window_says_no_data() -> None:
    text = render(empty_report(), "markdown")
    assert "**No data:** no requests were recorded in this window" in text
    response = next(t for t in tables(text) if t[0][:2] == ["Route", "Requests"])
    assert response[1] == ["all routes", "0", "no data", "no data", "no data", "no data"]
    assert "nan" not in text.lower()


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(
        ExporterError, match="unknown format 'xml'; use one of: json, csv, markdown"
    ):
        render(report(), "xml")
