"""``promtool test rules`` files for the generated rules, built from the same thresholds file.

Each test feeds synthetic raw series (what the exporter exposes, :mod:`exporter.rulegen.inputs`)
through every rule file (the hand-written recording rules and the generated ones) and says what
must happen, with values computed from the input (:mod:`exporter.rulegen.prommath`), not by the
rules. Alert cases are in :mod:`exporter.rulegen.alert_cases`; this module adds the tests of the
generated recording rules and assembles the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exporter.rulegen import promql
from exporter.rulegen.alert_cases import (
    Alerts,
    degradation_cases,
    error_cases,
    health_cases,
    minutes,
    quantile_cases,
    resource_cases,
    slo_cases,
    spike_cases,
    throughput_cases,
)
from exporter.rulegen.inputs import (
    JOB,
    Series,
    cumulative_rates,
    histogram,
    http_labels,
    labels_text,
)
from exporter.rulegen.model import RuleFile
from exporter.rulegen.prommath import rate
from exporter.rulegen.recording import (
    DURATION,
    SLO_WINDOWS,
    TTFB,
    bucket_index,
    budget,
    latency_burn,
    latency_errors,
    slower_record,
    threshold_ms,
    time_thresholds,
)
from exporter.thresholds import Thresholds


def _sample(record: str, labels: Mapping[str, str], value: float) -> dict[str, Any]:
    return {"labels": f"{record}{{{labels_text(labels)}}}", "value": value}


def threshold_rule_tests(t: Thresholds) -> dict[str, Any]:
    """Shares of slow requests: exact, the same whatever the ``le`` spelling, absent if idle."""
    at = 10
    bounds = t.buckets
    per_bucket = [60.0 * (i + 1) for i in range(len(bounds) + 1)]
    rates = cumulative_rates(per_bucket, at)
    route = "/video/{id}"
    inputs: list[Series] = []
    tests: list[dict[str, Any]] = []
    for metric, values in time_thresholds(t).items():
        if not values:
            continue
        inputs += histogram(metric, http_labels(route, job="python"), bounds, per_bucket, at)
        inputs += histogram(metric, http_labels(route, job="go"), bounds, per_bucket, at, "go")
        inputs += histogram(
            metric, http_labels(route, job="idle"), bounds, per_bucket, at, idle=True
        )
        inputs += histogram(
            metric, http_labels(route, job="other-buckets"), [0.1, 1.0], [60, 60, 60], at
        )
        for level in (("job",), ("job", "route")):
            record = slower_record(metric, level)
            for job in ("python", "go"):
                samples = []
                for value in values:
                    labels = {"job": job, "route": route} if "route" in level else {"job": job}
                    labels["threshold_ms"] = threshold_ms(value)
                    share = 1 - (rates[bucket_index(t, value)] / rates[-1])
                    samples.append(_sample(record, labels, share))
                tests.append(
                    {
                        "expr": f'{record}{{job="{job}"}}',
                        "eval_time": f"{at}m",
                        "exp_samples": samples,
                    }
                )
            for job in ("idle", "other-buckets"):
                tests.append(
                    {"expr": f'{record}{{job="{job}"}}', "eval_time": f"{at}m", "exp_samples": []}
                )
    return {
        "name": "shares of slow requests per threshold: le written 1.0 (Python) or 1 (Go); "
        "idle and foreign bucket layouts give no sample",
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": tests,
    }


def slo_rule_tests(t: Thresholds) -> list[dict[str, Any]]:
    at = 360  # six hours: every window is full
    route = "/video/{id}"
    errors, fast, slow = 300.0, 59_100.0, 600.0  # per minute: 0.5% 5xx (fast), 1% slow
    index = bucket_index(t, t.slo.latency_threshold)
    ok_counts = [0.0] * (len(t.buckets) + 1)
    ok_counts[0], ok_counts[index + 1] = fast, slow
    error_counts = [0.0] * (len(t.buckets) + 1)
    error_counts[0] = errors
    inputs = histogram(DURATION, http_labels(route), t.buckets, ok_counts, at)
    inputs += histogram(DURATION, http_labels(route, "500"), t.buckets, error_counts, at)
    inputs += histogram(
        DURATION, http_labels(route, job="idle"), t.buckets, ok_counts, at, idle=True
    )
    objectives = [
        _sample(
            "slo:objective:ratio",
            {"period": t.slo.period, "slo": "availability"},
            float(promql.num(t.slo.availability)),
        ),
        _sample(
            "slo:objective:ratio",
            {
                "period": t.slo.period,
                "slo": "latency",
                "threshold_ms": threshold_ms(t.slo.latency_threshold),
            },
            float(promql.num(t.slo.latency)),
        ),
    ]
    tests: list[dict[str, Any]] = [
        {"expr": "slo:objective:ratio", "eval_time": f"{at}m", "exp_samples": objectives}
    ]
    for w in SLO_WINDOWS:
        window = minutes(w)
        e, ok = rate(errors, at, window), rate(fast + slow, at, window)
        availability = (e / (ok + e)) / float(budget(t.slo.availability))
        within = rate(fast, at, window) + rate(errors, at, window)
        share = 1 - (within / (ok + e))
        expected = {
            f"job:slo_availability:burnrate{w}": availability,
            latency_errors(w): share,
            latency_burn(w): share / float(budget(t.slo.latency)),
        }
        for record, value in expected.items():
            tests.append(
                {
                    "expr": f'{record}{{job="{JOB}"}}',
                    "eval_time": f"{at}m",
                    "exp_samples": [_sample(record, {"job": JOB}, value)],
                }
            )
            tests.append(
                {"expr": f'{record}{{job="idle"}}', "eval_time": f"{at}m", "exp_samples": []}
            )
    return [
        {
            "name": "SLO objectives, bad-request shares and burn rates over every window; "
            "nothing for an idle job",
            "interval": "1m",
            "input_series": inputs,
            "promql_expr_test": tests,
        }
    ]


def documents(
    t: Thresholds, files: Sequence[RuleFile], handwritten_groups: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """Test file name -> promtool test document.

    ``handwritten_groups``: the groups of the hand-written rule files, in dependency order.
    promtool evaluates groups in random order unless told, and an alert evaluated before the
    recording rule it reads would see the previous minute's value.
    """
    alerts = Alerts(files)
    generated = [g.name for f in files if not f.alerts() for g in f.groups]
    generated += [g.name for f in files if f.alerts() for g in f.groups]
    head = {
        "rule_files": ["../rules/*.yml"],
        "evaluation_interval": "1m",
        "group_eval_order": [*handwritten_groups, *generated],
    }
    groups = {
        "api.alerts.test.yml": quantile_cases(t, alerts, "HighResponseTime", DURATION)
        + quantile_cases(t, alerts, "HighLatency", TTFB)
        + throughput_cases(t, alerts)
        + error_cases(t, alerts)
        + spike_cases(t, alerts)
        + degradation_cases(t, alerts),
        "resources.alerts.test.yml": resource_cases(t, alerts),
        "slo.alerts.test.yml": slo_cases(t, alerts),
        "health.alerts.test.yml": health_cases(t, alerts),
    }
    out = {name: {**head, "tests": [c.document() for c in cases]} for name, cases in groups.items()}
    out["thresholds.rules.test.yml"] = {**head, "tests": [threshold_rule_tests(t)]}
    out["slo.rules.test.yml"] = {**head, "tests": slo_rule_tests(t)}
    return out
