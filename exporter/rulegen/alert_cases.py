"""Test cases of the generated alerting rules: each fires, and stays quiet where it must.

For every alert: it fires after its ``for:`` (and is still pending a minute before), and it does
not fire below the threshold, on an idle service and with too little traffic, wherever those
apply. The expected labels, annotations and values come from the synthetic input
(:mod:`exporter.rulegen.prommath`), and the inputs move with the thresholds: changing one
number in thresholds.yml changes the cases around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.rulegen import promql
from exporter.rulegen.alerts import (
    GPU_ERRORS_WINDOW,
    PAGE,
    SPIKE_FOR,
    SPIKE_WINDOW,
    TICKET,
    Burn,
    burn_factor,
    scopes,
)
from exporter.rulegen.inputs import (
    INSTANCE,
    JOB,
    Series,
    constant,
    counter,
    cumulative_rates,
    histogram,
    http_labels,
    request_histogram,
    series,
    status_counts,
)
from exporter.rulegen.model import Rule, RuleFile
from exporter.rulegen.prommath import histogram_quantile, increase, rate, render
from exporter.rulegen.recording import DURATION, bucket_index, budget
from exporter.thresholds import LatencyLevels, Levels, Thresholds

PER_MINUTE = 60_000  # requests per minute in the "enough traffic" cases (1000 req/s)


@dataclass
class Case:
    """One promtool test group: input, then the alerts expected at ``at`` minutes."""

    name: str
    alertname: str
    input: list[Series]
    at: int
    firing: list[dict[str, Any]] = field(default_factory=list)
    pending: tuple[int, str] | None = None  # (minute, severity): pending, not firing yet

    def document(self) -> dict[str, Any]:
        group: dict[str, Any] = {
            "name": self.name,
            "interval": "1m",
            "input_series": self.input,
            "alert_rule_test": [
                {"eval_time": f"{self.at}m", "alertname": self.alertname, "exp_alerts": self.firing}
            ],
        }
        if self.pending is not None:
            minute, severity = self.pending
            selector = (
                f'ALERTS{{alertname="{self.alertname}",alertstate="pending",severity="{severity}"}}'
            )
            group["alert_rule_test"].insert(
                0, {"eval_time": f"{minute}m", "alertname": self.alertname, "exp_alerts": []}
            )
            group["promql_expr_test"] = [
                {
                    "expr": f"count({selector})",
                    "eval_time": f"{minute}m",
                    "exp_samples": [{"labels": "{}", "value": 1}],
                }
            ]
        return group


class Alerts:
    """The generated alerting rules, found by name, severity and route."""

    def __init__(self, files: Sequence[RuleFile]) -> None:
        self.rules = [rule for f in files for rule in f.alerts()]

    def get(self, name: str, severity: str, route: str | None = None) -> Rule:
        for rule in self.rules:
            if rule.alert == name and rule.labels["severity"] == severity and rule.route == route:
                return rule
        raise LookupError(f"no {severity} rule {name} for route {route}")

    def expect(
        self,
        name: str,
        severity: str,
        labels: Mapping[str, str],
        value: float,
        route: str | None = None,
    ) -> dict[str, Any]:
        rule = self.get(name, severity, route)
        return {
            "exp_labels": {**labels, "severity": severity},
            "exp_annotations": {k: render(v, labels, value) for k, v in rule.annotations.items()},
        }


def minutes(duration: str) -> int:
    return math.ceil(promql.seconds(duration) / 60)


def _fire_and_pending(start: int, for_: str, severity: str) -> tuple[int, tuple[int, str] | None]:
    """When a condition that holds from minute ``start`` must fire, and must still be pending."""
    hold = minutes(for_)
    fire_at = max(start + hold, 5) + 1
    pending = (start + hold - 1, severity) if hold >= 1 and promql.seconds(for_) > 0 else None
    return fire_at, pending


def _start(min_rate: float, per_minute: float, window: int = 5) -> int:
    """First minute where a young series' rate over ``window`` reaches ``min_rate``."""
    for minute in range(1, window + 1):
        if rate(per_minute, minute, window) >= min_rate:
            return minute
    return window


def _quiet_route(t: Thresholds) -> str:
    route = "/items/{item_id}"
    while route in t.routes:
        route += "x"
    return route


def _rising_levels(levels: Levels | LatencyLevels) -> list[tuple[str, float]]:
    pairs = [("warning", levels.warning), ("critical", levels.critical)]
    return sorted(((s, v) for s, v in pairs if v is not None), key=lambda p: p[1])


def slow_distribution(
    t: Thresholds, slow_share: float, above: float, total: float = PER_MINUTE
) -> list[float]:
    """Requests per bucket: ``slow_share`` just over ``above``, the rest in the first bucket."""
    slow = round(total * slow_share)
    counts = [0.0] * (len(t.buckets) + 1)
    counts[0] += total - slow
    counts[bucket_index(t, above) + 1] += slow
    return counts


def quantile_cases(t: Thresholds, alerts: Alerts, name: str, metric: str) -> list[Case]:
    if metric == DURATION:
        base: LatencyLevels = t.response_time
        per_route = {r: o.response_time for r, o in t.routes.items()}
    else:
        base = t.latency
        per_route = {r: o.latency for r, o in t.routes.items()}
    bounds = t.buckets
    cases: list[Case] = []
    for route, levels, _ in scopes(base, per_route):
        q = levels.quantile
        test_route = route or _quiet_route(t)
        labels = http_labels(test_route)
        out_labels = {"job": JOB, "route": test_route}
        pairs = _rising_levels(levels)
        if not pairs:
            continue
        where = f"route {route}" if route else "a route without override"

        start = _start(t.min_request_rate, PER_MINUTE)
        for i, (severity, threshold) in enumerate(pairs):
            counts = slow_distribution(t, min(1.0, 2 * (1 - q)), threshold)
            fire_at, pending = _fire_and_pending(start, levels.for_, severity)
            value = histogram_quantile(q, bounds, cumulative_rates(counts, fire_at))
            firing = [
                alerts.expect(name, sev, out_labels, value, route)
                for sev, limit in pairs
                if value > limit
            ]
            if not value > threshold or (i + 1 < len(pairs) and value > pairs[i + 1][1]):
                raise RuntimeError(f"{name}: the must-fire input missed {severity}")
            cases.append(
                Case(
                    f"{name} {severity} fires: {where}, {quantile_name(q)} just over "
                    f"{promql.human_seconds(threshold)}",
                    name,
                    request_histogram(metric, labels, bounds, counts, fire_at),
                    fire_at,
                    firing,
                    pending if i == 0 else None,
                )
            )
        lowest = pairs[0][1]
        fire_at, _ = _fire_and_pending(start, levels.for_, pairs[0][0])
        counts = slow_distribution(t, (1 - q) / 2, lowest)
        if histogram_quantile(q, bounds, cumulative_rates(counts, fire_at)) > lowest:
            raise RuntimeError(f"{name}: the below-threshold input is over the threshold")
        cases.append(
            Case(
                f"{name} quiet: {where}, {quantile_name(q)} under {promql.human_seconds(lowest)}",
                name,
                request_histogram(metric, labels, bounds, counts, fire_at),
                fire_at,
            )
        )
        slow_everything = slow_distribution(t, 1.0, pairs[-1][1])
        cases.append(
            Case(
                f"{name} quiet: {where}, idle",
                name,
                request_histogram(metric, labels, bounds, slow_everything, fire_at, idle=True),
                fire_at,
            )
        )
        few = _too_little(t)
        if few is not None:
            counts = slow_distribution(t, 1.0, pairs[-1][1], few)
            cases.append(
                Case(
                    f"{name} quiet: {where}, every request slow but under "
                    f"{t.min_request_rate:g} req/s",
                    name,
                    request_histogram(metric, labels, bounds, counts, fire_at),
                    fire_at,
                )
            )
        if route is not None and base.quantile == q:
            below_own = [v for _, v in _rising_levels(base) if v < lowest]
            above = [b for b in bounds if below_own and below_own[0] < b <= lowest]
            if above:
                counts = slow_distribution(t, min(1.0, 2 * (1 - q)), below_own[0])
                cases.append(
                    Case(
                        f"{name} quiet: route {route} over the default "
                        f"{promql.human_seconds(below_own[0])} but under its own threshold",
                        name,
                        request_histogram(metric, labels, bounds, counts, fire_at),
                        fire_at,
                    )
                )
    return cases


def quantile_name(q: float) -> str:
    return f"p{q * 100:g}"


def _too_little(t: Thresholds) -> int | None:
    """Requests per minute just under ``min_request_rate``, or None when that is under 1."""
    per_minute = math.ceil(t.min_request_rate * 60) - 1
    return per_minute if per_minute >= 1 else None


def _error_counts(total: float, share: float) -> tuple[float, float]:
    errors = round(total * share)
    return errors, total - errors


def error_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    name = "HighErrorRate"
    per_route = {r: o.error_rate for r, o in t.routes.items()}
    cases: list[Case] = []
    for route, levels, _ in scopes(t.error_rate, per_route):
        pairs = _rising_levels(levels)
        if not pairs:
            continue
        test_route = route or _quiet_route(t)
        where = f"route {route}" if route else "a route without override"
        out_labels = {"job": JOB, "route": test_route}

        start = _start(t.min_request_rate, PER_MINUTE)
        for i, (severity, threshold) in enumerate(pairs):
            upper = pairs[i + 1][1] if i + 1 < len(pairs) else 1.0
            errors, ok = _error_counts(PER_MINUTE, (threshold + upper) / 2)
            fire_at, pending = _fire_and_pending(start, levels.for_, severity)
            e, o = rate(errors, fire_at, 5), rate(ok, fire_at, 5)
            value = e / (e + o)
            firing = [
                alerts.expect(name, sev, out_labels, value, route)
                for sev, limit in pairs
                if value > limit
            ]
            cases.append(
                Case(
                    f"{name} {severity} fires: {where}, {value * 100:g}% 5xx",
                    name,
                    status_counts(test_route, errors, ok, fire_at),
                    fire_at,
                    firing,
                    pending if i == 0 else None,
                )
            )
        fire_at, _ = _fire_and_pending(start, levels.for_, "warning")
        errors, ok = _error_counts(PER_MINUTE, pairs[0][1] / 2)
        cases.append(
            Case(
                f"{name} quiet: {where}, {errors / PER_MINUTE * 100:g}% 5xx",
                name,
                status_counts(test_route, errors, ok, fire_at),
                fire_at,
            )
        )
        cases.append(
            Case(
                f"{name} quiet: {where}, idle",
                name,
                status_counts(test_route, PER_MINUTE, 0, fire_at, True),
                fire_at,
            )
        )
        few = _too_little(t)
        if few is not None:
            cases.append(
                Case(
                    f"{name} quiet: {where}, every request fails but under "
                    f"{t.min_request_rate:g} req/s",
                    name,
                    status_counts(test_route, few, 0, fire_at),
                    fire_at,
                )
            )
    return cases


def spike_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    name = "HighErrorRateSpike"
    rules = [r for r in alerts.rules if r.alert == name]
    if not rules:
        return []
    severity = rules[0].labels["severity"]
    threshold = t.error_rate.critical if severity == "critical" else t.error_rate.warning
    if threshold is None:
        return []
    window = minutes(SPIKE_WINDOW)
    route = "/video/{id}"

    start = _start(t.min_request_rate, PER_MINUTE, window)
    fire_at, pending = _fire_and_pending(start, SPIKE_FOR, severity)
    errors, ok = _error_counts(PER_MINUTE, (threshold + 1) / 2)
    e, o = rate(errors, fire_at, window), rate(ok, fire_at, window)
    value = e / (e + o)
    cases = [
        Case(
            f"{name} fires: {value * 100:g}% 5xx in the last {SPIKE_WINDOW}",
            name,
            status_counts(route, errors, ok, fire_at),
            fire_at,
            [alerts.expect(name, severity, {"job": JOB}, value)],
            pending,
        )
    ]
    errors, ok = _error_counts(PER_MINUTE, threshold / 2)
    cases.append(
        Case(
            f"{name} quiet: {errors / PER_MINUTE * 100:g}% 5xx",
            name,
            status_counts(route, errors, ok, fire_at),
            fire_at,
        )
    )
    cases.append(
        Case(
            f"{name} quiet: idle", name, status_counts(route, PER_MINUTE, 0, fire_at, True), fire_at
        )
    )
    few = _too_little(t)
    if few is not None:
        cases.append(
            Case(
                f"{name} quiet: every request fails but under {t.min_request_rate:g} req/s",
                name,
                status_counts(route, few, 0, fire_at),
                fire_at,
            )
        )
    return cases


def throughput_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    name = "LowThroughput"
    levels = t.throughput
    falling = sorted(
        ((s, v) for s, v in (("warning", levels.warning), ("critical", levels.critical)) if v),
        key=lambda p: -p[1],
    )
    if not falling:
        return []
    count = "http_server_request_duration_seconds_count"
    build_info = "exporter_build_info"
    start = 5  # the alert waits until the job was scraped a whole rate window ago

    def build(per_minute: float | None, at: int, idle: bool = False) -> list[Series]:
        out = [
            series(build_info, {"job": JOB, "instance": INSTANCE, "version": "1"}, constant(1, at))
        ]
        if per_minute is not None:
            values = constant(per_minute, at) if idle else counter(per_minute, at)
            out.append(series(count, http_labels("/video/{id}"), values))
        return out

    def expected(value: float) -> list[dict[str, Any]]:
        return [
            alerts.expect(name, sev, {"job": JOB}, value) for sev, limit in falling if value < limit
        ]

    cases = []
    for i, (severity, threshold) in enumerate(falling):
        lower = falling[i + 1][1] if i + 1 < len(falling) else 0.0
        per_minute = round((threshold + lower) / 2 * 60)
        fire_at, pending = _fire_and_pending(start, levels.for_, severity)
        value = rate(per_minute, fire_at, 5)
        if not lower <= value < threshold:
            raise RuntimeError(f"{name}: the must-fire input missed {severity}")
        cases.append(
            Case(
                f"{name} {severity} fires: {value:g} req/s",
                name,
                build(per_minute, fire_at),
                fire_at,
                expected(value),
                pending if i == 0 else None,
            )
        )
    fire_at, _ = _fire_and_pending(start, levels.for_, "warning")
    per_minute = round(falling[0][1] * 2 * 60) or 60
    cases.append(
        Case(
            f"{name} quiet: {rate(per_minute, fire_at, 5):g} req/s",
            name,
            build(per_minute, fire_at),
            fire_at,
        )
    )
    cases.append(
        Case(
            f"{name} fires: idle service (0 req/s)",
            name,
            build(PER_MINUTE, fire_at, idle=True),
            fire_at,
            expected(0.0),
        )
    )
    cases.append(
        Case(
            f"{name} fires: instrumented job that never served a request",
            name,
            build(None, fire_at),
            fire_at,
            expected(0.0),
        )
    )
    return cases


def degradation_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    name = "PerformanceDegradation"
    d = t.degradation
    window, offset, hold = minutes(d.window), minutes(d.offset), minutes(d.for_)
    switch = offset + window  # slower from here on
    fire_at = switch + window + hold + 1
    if fire_at - offset > switch:  # the earlier window would overlap the slow part
        return []
    per_minute = 6000

    def build(count: float, mean_before: float, factor: float) -> list[Series]:
        labels = {**http_labels("/video/{id}")}
        sum_before = round(count * mean_before)
        sum_after = round(sum_before * factor)
        sums = (
            f"{counter(sum_before, switch)} "
            f"{counter(sum_after, fire_at - switch - 1, sum_before * switch + sum_after)}"
        )
        return [
            series(f"{DURATION}_count", labels, counter(count, fire_at)),
            series(f"{DURATION}_sum", labels, sums),
        ]

    def mean_now(count: float, mean_before: float, factor: float) -> float:
        sum_after = round(round(count * mean_before) * factor)
        return rate(sum_after, window, window) / rate(count, fire_at, window)

    slower = d.factor * 1.5
    value = mean_now(per_minute, 0.1, slower)
    cases = [
        Case(
            f"{name} fires: average response time {slower:g}x the one {d.offset} earlier",
            name,
            build(per_minute, 0.1, slower),
            fire_at,
            [alerts.expect(name, "warning", {"job": JOB}, value)],
        )
    ]
    milder = (1 + d.factor) / 2
    cases.append(
        Case(
            f"{name} quiet: average response time {milder:g}x the one {d.offset} earlier",
            name,
            build(per_minute, 0.1, milder),
            fire_at,
        )
    )
    labels = http_labels("/video/{id}")
    idle = [
        series(f"{DURATION}_count", labels, constant(5000, fire_at)),
        series(f"{DURATION}_sum", labels, constant(500, fire_at)),
    ]
    cases.append(Case(f"{name} quiet: idle", name, idle, fire_at))
    few = _too_little(t)
    if few is not None:
        cases.append(
            Case(
                f"{name} quiet: {slower:g}x slower but under {t.min_request_rate:g} req/s",
                name,
                build(few, 1.0, slower),
                fire_at,
            )
        )
    return cases


def usage_cases(
    t: Thresholds,
    alerts: Alerts,
    name: str,
    levels: Levels,
    make: Callable[[float, int], tuple[list[Series], float]],
    labels: Mapping[str, str],
    start: int,
) -> list[Case]:
    """Rising usage ratios: ``make(usage, minutes)`` -> (input, the value Prometheus computes)."""
    pairs = _rising_levels(levels)
    cases = []
    for i, (severity, threshold) in enumerate(pairs):
        upper = pairs[i + 1][1] if i + 1 < len(pairs) else 1.0
        fire_at, pending = _fire_and_pending(start, levels.for_, severity)
        inputs, value = make((threshold + upper) / 2, fire_at)
        firing = [alerts.expect(name, s, labels, value) for s, limit in pairs if value > limit]
        cases.append(
            Case(
                f"{name} {severity} fires: {value * 100:g}%",
                name,
                inputs,
                fire_at,
                firing,
                pending if i == 0 else None,
            )
        )
    if pairs:
        fire_at, _ = _fire_and_pending(start, levels.for_, "warning")
        inputs, value = make(pairs[0][1] / 2, fire_at)
        cases.append(Case(f"{name} quiet: {value * 100:g}%", name, inputs, fire_at))
    return cases


def resource_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    host = {"job": JOB, "instance": INSTANCE}
    cpus = 4

    def cpu(usage: float, at: int) -> tuple[list[Series], float]:
        idle = round(cpus * 60 * (1 - usage))
        busy = cpus * 60 - idle
        metric = "system_cpu_seconds_total"
        inputs = [
            series(metric, {**host, "mode": "idle"}, counter(idle, at)),
            series(metric, {**host, "mode": "user"}, counter(busy, at)),
            series(metric, {**host, "mode": "guest"}, counter(busy, at)),  # inside "user"
        ]
        i, b = rate(idle, at, 5), rate(busy, at, 5)
        return inputs, 1 - (i / (i + b))

    def memory(usage: float, at: int) -> tuple[list[Series], float]:
        total = 1024.0**3 * 16
        available = round(total * (1 - usage))
        inputs = [
            series("system_memory_total_bytes", host, constant(total, at)),
            series("system_memory_available_bytes", host, constant(available, at)),
        ]
        return inputs, 1 - (available / total)

    gpu_labels = {**host, "gpu": "0", "name": "Fake T4"}

    def gpu(usage: float, at: int) -> tuple[list[Series], float]:
        value = round(usage, 4)
        labels = {**gpu_labels, "uuid": "GPU-0"}
        return [series("gpu_utilization_ratio", labels, constant(value, at))], value

    cases = usage_cases(t, alerts, "HighCpuUsage", t.cpu, cpu, host, 1)
    cases += usage_cases(t, alerts, "HighMemoryUsage", t.memory, memory, host, 0)
    cases += usage_cases(t, alerts, "HighGpuUsage", t.gpu, gpu, gpu_labels, 0)
    cases += gpu_collector_cases(t, alerts)
    return cases


def gpu_collector_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    name = "GpuCollectorFailing"
    host = {"job": JOB, "instance": INSTANCE}
    errors = "exporter_collector_errors_total"
    window = minutes(GPU_ERRORS_WINDOW)
    fire_at, pending = _fire_and_pending(1, t.for_, "warning")
    fire_at = max(fire_at, window + 1)
    gpu_memory = series(
        "gpu_memory_total_bytes",
        {**host, "gpu": "0", "uuid": "GPU-0", "name": "Fake T4"},
        constant(16 * 1024.0**3, fire_at),
    )
    failing = series(errors, {**host, "collector": "gpu"}, counter(1, fire_at))
    value = increase(1, fire_at, window)
    labels = {**host, "collector": "gpu"}
    return [
        Case(
            f"{name} fires: errors every minute on a host that had GPU metrics",
            name,
            [failing, gpu_memory],
            fire_at,
            [alerts.expect(name, "warning", labels, value)],
            pending,
        ),
        Case(f"{name} quiet: errors on a host that never had a GPU", name, [failing], fire_at),
        Case(
            f"{name} quiet: no new error",
            name,
            [series(errors, {**host, "collector": "gpu"}, constant(3, fire_at)), gpu_memory],
            fire_at,
        ),
    ]


def health_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    fire_at, pending = _fire_and_pending(0, t.for_, "critical")
    host = {"job": JOB, "instance": INSTANCE}
    probe = {"job": "blackbox", "instance": "http://app:8000/health"}
    build_info = series("exporter_build_info", {**host, "version": "1"}, constant(1, fire_at))
    return [
        Case(
            "Watchdog fires from the first evaluation",
            "Watchdog",
            [],
            1,
            [alerts.expect("Watchdog", "none", {}, 1)],
        ),
        Case(
            "TargetDown fires: scrapes failing",
            "TargetDown",
            [series("up", host, constant(0, fire_at))],
            fire_at,
            [alerts.expect("TargetDown", "critical", host, 0)],
            pending,
        ),
        Case(
            "TargetDown quiet: target up",
            "TargetDown",
            [series("up", host, constant(1, fire_at))],
            fire_at,
        ),
        Case(
            "ExporterMetricsAbsent fires: targets scraped, none exposing the exporter",
            "ExporterMetricsAbsent",
            [series("up", host, constant(1, fire_at))],
            fire_at,
            [alerts.expect("ExporterMetricsAbsent", "critical", {}, 1)],
            pending,
        ),
        Case(
            "ExporterMetricsAbsent quiet: exporter scraped",
            "ExporterMetricsAbsent",
            [build_info],
            fire_at,
        ),
        Case(
            "EndpointProbeFailed fires: probe failing",
            "EndpointProbeFailed",
            [series("probe_success", probe, constant(0, fire_at))],
            fire_at,
            [alerts.expect("EndpointProbeFailed", "critical", probe, 0)],
            pending,
        ),
        Case(
            "EndpointProbeFailed quiet: probe succeeding",
            "EndpointProbeFailed",
            [series("probe_success", probe, constant(1, fire_at))],
            fire_at,
        ),
    ]


def _burn_value(bad: float, good: float, at: int, burn: Burn, budget_text: str) -> float:
    window = minutes(burn.long)
    b, g = rate(bad, at, window), rate(good, at, window)
    return (b / (b + g)) / float(budget_text)


def slo_cases(t: Thresholds, alerts: Alerts) -> list[Case]:
    page, ticket = burn_factor(t, PAGE), burn_factor(t, TICKET)
    start = _start(t.min_request_rate, PER_MINUTE)
    fire_at = start + max(minutes(PAGE.for_), minutes(TICKET.for_)) + 1
    cases: list[Case] = []
    for name, objective in (
        ("SLOAvailabilityBudgetBurn", t.slo.availability),
        ("SLOLatencyBudgetBurn", t.slo.latency),
    ):
        budget_text = budget(objective)
        allowed = float(budget_text)

        def build(bad: float, good: float, at: int, name: str = name) -> list[Series]:
            if name == "SLOAvailabilityBudgetBurn":
                count = f"{DURATION}_count"
                return [
                    series(count, http_labels("/video/{id}", "500"), counter(bad, at)),
                    series(count, http_labels("/video/{id}", "200"), counter(good, at)),
                ]
            counts = [0.0] * (len(t.buckets) + 1)
            counts[0] = good
            counts[bucket_index(t, t.slo.latency_threshold) + 1] = bad
            return histogram(DURATION, http_labels("/video/{id}"), t.buckets, counts, at)

        def value(
            bad: float, good: float, burn: Burn, name: str = name, b: str = budget_text
        ) -> float:
            if name == "SLOAvailabilityBudgetBurn":
                return _burn_value(bad, good, fire_at, burn, b)
            window = minutes(burn.long)
            ok, everything = rate(good, fire_at, window), rate(bad + good, fire_at, window)
            return (1 - (ok / everything)) / float(b)

        def shares(burn: float, allowed: float = allowed) -> tuple[float, float]:
            bad = round(PER_MINUTE * min(1.0, burn * allowed))
            return bad, PER_MINUTE - bad

        labels = {"job": JOB}
        bad, good = shares(page * 2)
        cases.append(
            Case(
                f"{name} page and ticket fire: burning {page * 2:g}x",
                name,
                build(bad, good, fire_at),
                fire_at,
                [
                    alerts.expect(name, "critical", labels, value(bad, good, PAGE)),
                    alerts.expect(name, "warning", labels, value(bad, good, TICKET)),
                ],
            )
        )
        bad, good = shares((page + ticket) / 2)
        cases.append(
            Case(
                f"{name} ticket fires, page quiet: burning {(page + ticket) / 2:g}x",
                name,
                build(bad, good, fire_at),
                fire_at,
                [alerts.expect(name, "warning", labels, value(bad, good, TICKET))],
                (start + minutes(TICKET.for_) - 1, "warning"),
            )
        )
        bad, good = shares(ticket / 2)
        cases.append(
            Case(f"{name} quiet: burning {ticket / 2:g}x", name, build(bad, good, fire_at), fire_at)
        )
        flat = [{**item, "values": constant(5000, fire_at)} for item in build(bad, good, fire_at)]
        cases.append(Case(f"{name} quiet: idle", name, flat, fire_at))
        few = _too_little(t)
        if few is not None:
            cases.append(
                Case(
                    f"{name} quiet: every request bad but under {t.min_request_rate:g} req/s",
                    name,
                    build(few, 0, fire_at),
                    fire_at,
                )
            )
    return cases
