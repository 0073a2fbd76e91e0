"""``exporter rules``: check thresholds.yml and generate the Prometheus rules and their tests.

    exporter rules [--thresholds prometheus/thresholds.yml] [--out prometheus/rules] [--check]

Writes the alerting rules (``*.alerts.yml``) and the recording rules that depend on a threshold
(``thresholds.rules.yml``, ``slo.rules.yml``) to ``--out``, and their ``promtool test rules``
files to ``--tests-out`` (default: ``tests/`` next to ``--out``, i.e. ``prometheus/tests``).
``--check`` writes nothing and exits 1 when a committed file differs from what it would write.
A thresholds file the rules cannot honour (an unknown key, a threshold that is not a bucket
boundary, an alert that could never fire) is one line naming the file and the key, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from exporter.errors import ConfigError, ExporterError
from exporter.rulegen import alerts, emit, promql, recording, unittests
from exporter.rulegen.model import RuleFile
from exporter.thresholds import DEFAULT_PATH, Thresholds, load_thresholds

DEFAULT_OUT = Path("prometheus/rules")


@dataclass(frozen=True)
class Output:
    """What the generator writes: file name -> text, for the rules and for the tests."""

    rules: dict[str, str]
    tests: dict[str, str]


def rule_files(t: Thresholds) -> list[RuleFile]:
    return [
        recording.threshold_rules(t),
        recording.slo_rules(t),
        alerts.api_alerts(t),
        alerts.resource_alerts(t),
        alerts.slo_alerts(t),
        alerts.health_alerts(t),
    ]


def check_thresholds(t: Thresholds) -> None:
    """What the loader cannot know: whether every alert built on the file can fire."""
    largest = t.buckets[-1]
    scopes = [("", t.response_time, t.latency)]
    scopes += [(f"routes.{r}.", o.response_time, o.latency) for r, o in t.routes.items()]
    for prefix, response_time, latency in scopes:
        for name, levels in (("response_time", response_time), ("latency", latency)):
            for level in ("warning", "critical"):
                value = getattr(levels, level)
                if value is not None and value >= largest:
                    raise ConfigError(
                        f"{prefix}{name}.{level}_ms: {value * 1000:g} ms is the largest bucket; "
                        "a quantile never exceeds it, so the alert could never fire"
                    )
    _check_slo_period(t)
    for key, objective in (
        ("availability_percent", t.slo.availability),
        ("latency_percent", t.slo.latency),
    ):
        for burn in (alerts.PAGE, alerts.TICKET):
            factor = alerts.burn_factor(t, burn)
            if factor * (1 - objective) >= 1:
                raise ConfigError(
                    f"slo.{key}: {objective * 100:g}% leaves an error budget so large that a "
                    f"{factor:g}x burn (over {burn.long} of a {t.slo.period} period) is "
                    "impossible; use a higher objective or a longer period"
                )
    if promql.seconds(t.degradation.offset) < promql.seconds(t.degradation.window):
        raise ConfigError(
            "degradation.offset: must be at least degradation.window, "
            "or the two windows compared overlap"
        )


def _check_slo_period(t: Thresholds) -> None:
    """Every burn-rate factor above 1, or an alert fires while the budget lasts the period."""
    burns = (alerts.PAGE, alerts.TICKET)
    factors = [alerts.burn_factor(t, burn) for burn in burns]
    if min(factors) > 1:
        return
    shortest = max(promql.seconds(burn.long) / burn.budget_share for burn in burns)
    shares = ", ".join(f"{b.budget_share * 100:g}% in {b.long}" for b in burns)
    raise ConfigError(
        f"slo.period: {t.slo.period} gives burn-rate factors "
        f"{' and '.join(f'{f:g}' for f in factors)} (share of the budget x period / window: "
        f"{shares}); they must be above 1 or the alerts fire while the budget is spent no faster "
        f"than sustainable, so use a period longer than {promql.duration(shortest)}"
    )


def handwritten_groups(rules_dir: Path) -> list[str]:
    """Names of the groups of the hand-written ``*.rules.yml`` files, file by file."""
    names: list[str] = []
    for path in sorted(rules_dir.glob("*.rules.yml")):
        if is_generated(path):
            continue
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            names += [str(group["name"]) for group in document.get("groups", [])]
        except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError):
            raise ConfigError(f"{path}: not a Prometheus rule file") from None
    return names


def generate(
    t: Thresholds, source: str = "thresholds.yml", handwritten: Sequence[str] = ()
) -> Output:
    """Every generated file for the thresholds ``t`` (read from a file named ``source``).

    ``handwritten``: the group names of the hand-written rule files next to the generated ones
    (see :func:`handwritten_groups`); the tests evaluate them first.
    """
    check_thresholds(t)
    files = rule_files(t)
    rules = {f.name: emit.rule_file(f, source) for f in files}
    about = (
        "promtool unit tests of the rules generated from the same file; run them with\n"
        "  promtool test rules prometheus/tests/*.test.yml"
    )
    tests = {
        name: emit.test_file(document, about, source)
        for name, document in unittests.documents(t, files, handwritten).items()
    }
    return Output(rules, tests)


def is_generated(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as f:
            return f.readline().startswith("# Generated by `exporter rules`")
    except OSError:
        return False


def differences(output: Output, rules_dir: Path, tests_dir: Path) -> list[str]:
    """Files that are missing, differ, or were generated once and are no longer."""
    problems = []
    for directory, files in ((rules_dir, output.rules), (tests_dir, output.tests)):
        for name, text in files.items():
            path = directory / name
            try:
                current = path.read_text(encoding="utf-8")
            except OSError:
                problems.append(f"{path} is missing")
                continue
            if current != text:
                problems.append(f"{path} is out of date")
        if directory.is_dir():
            for path in sorted(directory.glob("*.yml")):
                if path.name not in files and is_generated(path):
                    problems.append(f"{path} was generated but is no longer")
    return problems


def write(output: Output, rules_dir: Path, tests_dir: Path) -> list[Path]:
    """Write every file whose text changed; remove stale generated ones. Returns what changed."""
    changed = []
    for directory, files in ((rules_dir, output.rules), (tests_dir, output.tests)):
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = directory / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                changed.append(path)
        for path in sorted(directory.glob("*.yml")):
            if path.name not in files and is_generated(path):
                path.unlink()
                changed.append(path)
    return changed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--thresholds", type=Path, default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"rules folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--tests-out", type=Path, default=None, help="promtool tests folder (default: OUT/../tests)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    thresholds = load_thresholds(args.thresholds)
    rules_dir: Path = args.out
    tests_dir: Path = args.tests_out or rules_dir.parent / "tests"
    groups = handwritten_groups(rules_dir)
    try:
        output = generate(thresholds, args.thresholds.name, groups)
    except ConfigError as exc:
        raise ConfigError(f"{args.thresholds}: {exc}") from None
    if args.check:
        problems = differences(output, rules_dir, tests_dir)
        if problems:
            raise ExporterError(
                f"{'; '.join(problems)}; run: exporter rules --thresholds {args.thresholds}"
            )
        out.write(f"{len(output.rules) + len(output.tests)} generated files are up to date\n")
        return 0
    try:
        changed = write(output, rules_dir, tests_dir)
    except OSError as exc:
        raise ExporterError(f"cannot write the rules: {exc}") from None
    for path in changed:
        out.write(f"wrote {path}\n" if path.exists() else f"removed {path}\n")
    if not changed:
        out.write("nothing to change\n")
    return 0
