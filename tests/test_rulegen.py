"""``exporter rules``: thresholds.yml in, alert rules and their promtool tests out."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from exporter import rulegen
from exporter.cli import main
from exporter.errors import ConfigError
from exporter.stack.promconfig import PROMETHEUS_DIR
from exporter.stack.servers import find_binary
from exporter.thresholds import load_thresholds

RULES = PROMETHEUS_DIR / "rules"
THRESHOLDS = PROMETHEUS_DIR / "thresholds.yml"


def checkout(tmp_path: Path, thresholds: str | None = None) -> Path:
    """A prometheus/ folder with the hand-written rules and a thresholds file, nothing generated."""
    root = tmp_path / "prometheus"
    (root / "rules").mkdir(parents=True)
    for path in RULES.glob("*.rules.yml"):
        if not rulegen.is_generated(path):
            shutil.copy(path, root / "rules")
    (root / "thresholds.yml").write_text(thresholds or THRESHOLDS.read_text())
    return root


def rules(root: Path, *extra: str) -> int:
    return main(
        [
            "rules",
            "--thresholds",
            str(root / "thresholds.yml"),
            "--out",
            str(root / "rules"),
            *extra,
        ]
    )


def promtool_test(root: Path) -> subprocess.CompletedProcess[str]:
    files = sorted(str(p) for p in (root / "tests").glob("*.test.yml"))
    return subprocess.run(
        [find_binary("promtool"), "test", "rules", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_changing_one_threshold_changes_the_alert_and_the_test_that_covers_it(
    tmp_path: Path,
) -> None:
    text = THRESHOLDS.read_text()
    edited = text.replace("  warning_ms: 1000\n", "  warning_ms: 500\n", 1)
    assert edited != text
    root = checkout(tmp_path, edited)
    assert rules(root) == 0
    changed = {
        name
        for folder in ("rules", "tests")
        for name in (p.name for p in (root / folder).glob("*.yml"))
        if (PROMETHEUS_DIR / folder / name).read_text() != (root / folder / name).read_text()
    }
    assert changed == {"api.alerts.yml", "api.alerts.test.yml", "thresholds.rules.yml",
                       "thresholds.rules.test.yml"}  # fmt: skip
    diff = "".join(
        difflib.unified_diff(
            (RULES / "api.alerts.yml").read_text().splitlines(True),
            (root / "rules" / "api.alerts.yml").read_text().splitlines(True),
        )
    )
    new_expr = 'p95_5m{route!="/video/process/batch"} > 0.5\n'
    assert f"+          job_route:http_server_request_duration_seconds:{new_expr}" in diff
    assert "-          job_route:http_server_request_duration_seconds:p95_5m" in diff
    result = promtool_test(root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_tests_pass_for_other_thresholds(tmp_path: Path) -> None:
    other = """
defaults: {for: 10m, min_request_rate: 2}
response_time: {quantile: 0.99, warning_ms: 250, critical_ms: 500}
latency: {quantile: 0.9, warning_ms: 100, critical_ms: 250}
throughput: {warning_rps: 50, critical_rps: null}
error_rate: {warning_percent: 1, critical_percent: 20, for: 2m}
cpu: {warning_percent: 60, critical_percent: null}
gpu: {warning_percent: 70, critical_percent: 95}
degradation: {factor: 3, window: 15m, offset: 2h, for: 10m}
slo: {period: 28d, availability_percent: 99.9, latency_percent: 95, latency_threshold_ms: 250}
routes:
  /reports/{report_id}:
    response_time: {warning_ms: 2000, critical_ms: null}
    error_rate: {warning_percent: 10}
"""
    root = checkout(tmp_path, other)
    assert rules(root) == 0
    alerts = (root / "rules" / "api.alerts.yml").read_text()
    assert "histogram_quantile(0.9," in alerts  # no recording rule for p90: computed inline
    assert (
        'job_route:http_server_request_errors:ratio_rate5m{route="/reports/{report_id}"}' in alerts
    )
    result = promtool_test(root)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ("cpu: {warning_percent: 80, hot: 1}\n", "thresholds.yml: cpu.hot: unknown key"),
        ("response_time: {warning_ms: 1200}\n", "1200 ms is not a histogram bucket boundary"),
        ("error_rate: {warning_percent: five}\n", "error_rate.warning_percent: expected a number"),
        ("response_time: {critical_ms: 60000}\n", "60000 ms is the largest bucket"),
        ("slo: {availability_percent: 90}\n", "slo.availability_percent: 90% leaves an error"),
        ("defaults: {for: soon}\n", "defaults.for: expected a Prometheus duration"),
        ("routes: {/x: {cpu: {}}}\n", "routes./x.cpu: unknown key"),
        ("degradation: {window: 0m}\n", "degradation.window: 0m is too short for a rate()"),
        ("degradation: {window: 30s}\n", "window; use at least 1m (4 scrape intervals of"),
        ("defaults: {min_request_rate: 1e999}\n", "min_request_rate: expected a number, got '1e"),
        ("slo: {period: 0s}\n", "slo.period: 0s gives burn-rate factors 0 and 0 (share"),
        ("slo: {period: 1h}\n", "no faster than sustainable, so use a period longer than 5d"),
    ],
)
def test_rules_rejects_a_bad_thresholds_file_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], thresholds: str, message: str
) -> None:
    root = checkout(tmp_path, thresholds)
    assert rules(root) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert err.startswith("exporter rules: error: ")
    assert not (root / "tests").exists()
    assert sorted(p.name for p in (root / "rules").iterdir()) == sorted(
        p.name for p in RULES.glob("*.rules.yml") if not rulegen.is_generated(p)
    )


def test_an_slo_period_is_long_enough_once_both_burn_rate_factors_exceed_1(
    tmp_path: Path,
) -> None:
    path = tmp_path / "thresholds.yml"
    path.write_text("slo: {period: 5d}\n")  # ticket: 5% of the budget in 6h is 1x
    with pytest.raises(ConfigError, match=r"factors 2\.4 and 1 \(.*longer than 5d$"):
        rulegen.check_thresholds(load_thresholds(path))
    path.write_text("slo: {period: 7201m}\n")
    rulegen.check_thresholds(load_thresholds(path))


def test_numbers_in_exponent_form_are_read_as_yaml_1_2_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.yml"
    path.write_text("defaults: {min_request_rate: 1e9}\ndegradation: {factor: 25E-1}\n")
    t = load_thresholds(path)  # PyYAML (YAML 1.1) reads both as strings
    assert t.min_request_rate == 1e9
    assert t.degradation.factor == 2.5


def test_a_zero_for_duration_is_accepted_as_prometheus_does(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.yml"
    path.write_text("defaults: {for: 0s}\ndegradation: {for: 0m}\n")
    t = load_thresholds(path)
    assert t.for_ == t.cpu.for_ == "0s"
    assert t.degradation.for_ == "0m"


def test_rules_reports_a_missing_thresholds_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "--thresholds", str(tmp_path / "nope.yml")]) == 1
    assert "nope.yml: cannot read" in capsys.readouterr().err


def test_check_names_the_out_of_date_file_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout(tmp_path)
    assert rules(root) == 0
    assert rules(root, "--check") == 0
    target = root / "rules" / "slo.alerts.yml"
    target.write_text(target.read_text().replace("14.4", "14"))
    edited = target.read_text()
    capsys.readouterr()
    assert rules(root, "--check") == 1
    assert "slo.alerts.yml is out of date" in capsys.readouterr().err
    assert target.read_text() == edited


def test_rules_rewrites_only_what_changed_and_removes_stale_generated_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout(tmp_path)
    assert rules(root) == 0
    stale = root / "rules" / "old.alerts.yml"
    stale.write_text("# Generated by `exporter rules` from thresholds.yml.\ngroups: []\n")
    mine = root / "rules" / "mine.alerts.yml"
    mine.write_text("groups: []\n")  # written by hand: never touched
    capsys.readouterr()
    assert rules(root, "--check") == 1
    assert "old.alerts.yml was generated but is no longer" in capsys.readouterr().err
    assert rules(root) == 0
    assert capsys.readouterr().out == f"removed {stale}\n"
    assert not stale.exists()
    assert mine.exists()
    assert rules(root) == 0
    assert capsys.readouterr().out == "nothing to change\n"


def test_tests_evaluate_recording_groups_before_the_alerts_that_read_them() -> None:
    t = load_thresholds(THRESHOLDS)
    output = rulegen.generate(t, "thresholds.yml", rulegen.handwritten_groups(RULES))
    text = output.tests["api.alerts.test.yml"]
    order = text[text.index("group_eval_order:") : text.index("tests:")]
    assert order.index("- http-throughput") < order.index("- slow-requests")
    assert order.index("- slo-latency") < order.index("- api-response-time")
