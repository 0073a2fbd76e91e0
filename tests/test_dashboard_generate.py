"""The committed dashboards are what the generator writes, and their colours follow
prometheus/thresholds.yml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import cli
from exporter.grafana.generate import DEFAULT_OUT, render, stale
from exporter.thresholds import DEFAULT_PATH, load_thresholds, parse_thresholds
from tests.dashboards import load


def _stat_steps(dashboard: dict[str, Any], title: str) -> list[tuple[float | None, str]]:
    panel = next(p for p in dashboard["panels"] if p["title"] == title)
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [(s["value"], s["color"]) for s in steps]


def test_committed_dashboards_are_exactly_what_the_generator_writes() -> None:
    """If this fails, run `exporter dashboards` and commit grafana/dashboards/."""
    assert stale(DEFAULT_OUT, render(load_thresholds(DEFAULT_PATH))) == []


def test_api_headline_stats_are_coloured_by_the_levels_of_thresholds_yml() -> None:
    t = load_thresholds(DEFAULT_PATH)
    api = load("api-performance.json")
    rt = [(None, "green"), (t.response_time.warning, "orange"), (t.response_time.critical, "red")]
    for title in ("p50 response time", "p95 response time", "p99 response time"):
        assert _stat_steps(api, title) == rt
    assert _stat_steps(api, "p95 TTFB") == [(None, "green"), (t.latency.warning, "orange")]
    assert _stat_steps(api, "Error ratio") == [
        (None, "green"),
        (t.error_rate.warning, "orange"),
        (t.error_rate.critical, "red"),
    ]
    assert _stat_steps(api, "Requests/s") == [
        (None, "red"),
        (t.throughput.critical, "orange"),
        (t.throughput.warning, "green"),
    ]


def test_resource_and_slo_stats_are_coloured_by_thresholds_yml() -> None:
    t = load_thresholds(DEFAULT_PATH)
    resources, slo = load("resources.json"), load("slo.json")
    assert _stat_steps(resources, "Host CPU") == [
        (None, "green"),
        (t.cpu.warning, "orange"),
        (t.cpu.critical, "red"),
    ]
    assert _stat_steps(resources, "Host memory") == [
        (None, "green"),
        (t.memory.warning, "orange"),
        (t.memory.critical, "red"),
    ]
    assert _stat_steps(resources, "GPU utilisation") == [(None, "green"), (t.gpu.warning, "orange")]
    assert _stat_steps(slo, f"Availability ({t.slo.period})") == [
        (None, "red"),
        (t.slo.availability, "green"),
    ]
    assert _stat_steps(slo, f"Latency SLI ({t.slo.period})") == [
        (None, "red"),
        (t.slo.latency, "green"),
    ]


def test_changing_a_level_in_thresholds_yml_changes_the_generated_colours_and_queries() -> None:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["response_time"]["warning_ms"] = 250
    data["slo"]["latency_threshold_ms"] = 500
    data["slo"]["availability_percent"] = 99.9
    rendered = render(parse_thresholds(data))
    assert rendered != render(load_thresholds(DEFAULT_PATH))
    api = json.loads(rendered["api-performance.json"])
    assert _stat_steps(api, "p95 response time")[1] == (0.25, "orange")
    slo_text = rendered["slo.json"]
    assert 'le=\\"0.5\\"' in slo_text
    assert "/ 0.001" in slo_text  # burn rate divides by the error budget, 1 - 99.9 %


def test_dashboards_check_reports_stale_files_in_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dashboards"
    assert cli.main(["dashboards", "--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "out of date" in err
    assert "api-performance.json" in err

    assert cli.main(["dashboards", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "api-performance.json",
        "resources.json",
        "slo.json",
    ]
    assert cli.main(["dashboards", "--check", "--out", str(out)]) == 0


def test_dashboards_with_a_broken_thresholds_file_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "thresholds.yml"
    bad.write_text("response_time:\n  warning_ms: 300\n")
    code = cli.main(["dashboards", "--thresholds", str(bad), "--out", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "300 ms is not a histogram bucket boundary" in err
    assert not (tmp_path / "out").exists()
