"""The committed Prometheus files: promtool accepts them, their unit tests pass, nothing drifts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import rulegen
from exporter.stack.promconfig import PROMETHEUS_DIR, local_config
from exporter.stack.servers import find_binary
from exporter.thresholds import MIN_RATE_WINDOW, duration_seconds, load_thresholds

RULES = PROMETHEUS_DIR / "rules"
TESTS = PROMETHEUS_DIR / "tests"
RUNBOOKS = PROMETHEUS_DIR.parent / "docs" / "runbooks.md"
NAME = re.compile(r"^[a-z][a-z_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_binary("promtool"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))


def rules_of(kind: str) -> list[dict[str, Any]]:
    """Every recording (``record``) or alerting (``alert``) rule of the committed files."""
    found = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [rule for rule in group["rules"] if kind in rule]
    return found


def unit_tests() -> list[dict[str, Any]]:
    groups = []
    for path in sorted(TESTS.glob("*.test.yml")):
        groups += yaml.safe_load(path.read_text())["tests"]
    return groups


def test_promtool_accepts_every_rule_file() -> None:
    result = promtool("check", "rules", *rule_files())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rule_files()) >= 9


def test_promtool_accepts_the_compose_config_with_its_rules() -> None:
    result = promtool("check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_files())} rule files found" in result.stdout


@pytest.mark.parametrize("optional", [{}, {"alertmanager_port": 9, "webhook_port": 10}])
def test_promtool_accepts_the_make_run_config(tmp_path: Path, optional: dict[str, int]) -> None:
    config = tmp_path / "prometheus.yml"
    text = local_config(app_port=1, prometheus_port=2, rules_dir=RULES, blackbox_port=3, **optional)
    config.write_text(text)
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_and_alert_passes_its_promtool_unit_tests() -> None:
    files = sorted(TESTS.glob("*.test.yml"))
    result = promtool("test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_committed_generated_files_are_what_exporter_rules_writes() -> None:
    thresholds = load_thresholds(PROMETHEUS_DIR / "thresholds.yml")
    output = rulegen.generate(thresholds, "thresholds.yml", rulegen.handwritten_groups(RULES))
    assert rulegen.differences(output, RULES, TESTS) == []


def test_every_recording_rule_is_checked_for_its_value_by_a_unit_test() -> None:
    tested = " ".join(
        case["expr"] for group in unit_tests() for case in group.get("promql_expr_test", [])
    )
    untested = {r["record"] for r in rules_of("record")} - set(re.findall(r"[a-z_:0-9]+", tested))
    assert untested == set()


def test_every_alert_has_a_case_that_fires_and_one_that_must_not() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in unit_tests():
        for case in group.get("alert_rule_test", []):
            (fires if case["exp_alerts"] else quiet).add(case["alertname"])
    names = {r["alert"] for r in rules_of("alert")}
    assert names - fires == set()
    assert names - quiet == {"Watchdog"}


def test_recording_rules_are_named_level_metric_operation_with_a_comment() -> None:
    for path in rule_files():
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"\s*- record: (\S+)$", line)
            if match:
                assert NAME.match(match.group(1)), f"{path.name}: {match.group(1)}"
                assert lines[i - 1].strip().startswith("#"), f"{path.name}: {match.group(1)}"


def test_alerts_have_for_severity_summary_description_and_runbook() -> None:
    alerts = rules_of("alert")
    assert len({a["alert"] for a in alerts}) == 16
    for alert in alerts:
        assert "for" in alert, alert["alert"]
        assert alert["labels"]["severity"] in {"warning", "critical", "none"}
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"])
    for alert in alerts:  # the route or instance in the text; these two have no labels to show
        if alert["alert"] not in {"Watchdog", "ExporterMetricsAbsent"}:
            assert "{{ $labels." in alert["annotations"]["description"], alert["alert"]


def test_every_alert_has_a_runbook_section_its_url_points_at() -> None:
    headings = re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), re.MULTILINE)
    alerts = rules_of("alert")
    assert sorted(set(headings)) == sorted(headings) == sorted({a["alert"] for a in alerts})
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/runbooks.md#{alert['alert'].lower()}"


def test_no_rule_matches_le_by_its_text() -> None:
    for path in rule_files():
        code = re.sub(r"#.*", "", path.read_text())
        assert not re.search(r"\ble\s*(=|!=|=~|!~)", code), path.name


def test_every_rate_window_is_at_least_four_compose_scrape_intervals() -> None:
    scrape = 15  # prometheus/prometheus.yml
    units = {"s": 1, "m": 60, "h": 3600}
    for path in rule_files():
        for amount, unit in re.findall(r"\[(\d+)([smh])\]", path.read_text()):
            assert int(amount) * units[unit] >= 4 * scrape, f"{path.name}: [{amount}{unit}]"


def test_the_shortest_window_thresholds_yml_accepts_is_four_compose_scrape_intervals() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    scrape = duration_seconds(config["global"]["scrape_interval"])
    assert duration_seconds(MIN_RATE_WINDOW) >= 4 * scrape


def _mutated(tmp_path: Path, file: str, old: str, new: str) -> subprocess.CompletedProcess[str]:
    """promtool's verdict on the tests of ``file`` after one edit of it."""
    copy = tmp_path / "prometheus"
    shutil.copytree(RULES, copy / "rules")
    shutil.copytree(TESTS, copy / "tests")
    path = copy / "rules" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return promtool("test", "rules", copy / "tests" / file.replace(".yml", ".test.yml"))


def test_unit_tests_catch_an_alert_that_ignores_the_traffic_minimum(tmp_path: Path) -> None:
    result = _mutated(
        tmp_path,
        "api.alerts.yml",
        "> 1\n          and on (job, route) job_route:http_server_requests:rate5m >= 1",
        "> 1",
    )
    assert result.returncode == 1
    assert "every request slow but under 1 req/s" in result.stderr


def test_unit_tests_catch_a_threshold_edited_in_the_rules_only(tmp_path: Path) -> None:
    result = _mutated(tmp_path, "api.alerts.yml", 'route!="/video/process/batch"} > 1', "} > 1")
    assert result.returncode == 1
    assert "over the default 1s but under its own threshold" in result.stderr


def test_unit_tests_catch_a_rule_that_matches_le_by_its_text(tmp_path: Path) -> None:
    result = _mutated(
        tmp_path,
        "thresholds.rules.yml",
        "bottomk by (job) (8, sum by (job, le) "
        "(rate(http_server_request_duration_seconds_bucket[5m])))",
        'sum by (job, le) (rate(http_server_request_duration_seconds_bucket{le="1.0"}[5m]))',
    )
    assert result.returncode == 1
    assert 'job="go"' in result.stderr
