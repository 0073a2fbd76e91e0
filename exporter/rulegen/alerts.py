"""The alerting rules generated from thresholds.yml (``prometheus/rules/*.alerts.yml``).

Every alert has ``for:``, a ``severity`` label and ``summary``, ``description`` (with the value
and the route or instance) and ``runbook_url`` annotations. A threshold with a warning and a
critical level gives two rules with the same alert name, so Alertmanager can let the critical
one inhibit the warning one (same alertname, job and route). Latency and error-rate alerts stay
quiet below ``defaults.min_request_rate``; throughput alerts wait until the job has been scraped
for a whole rate window, since ``rate()`` under-reads series younger than its window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from exporter.rulegen import promql
from exporter.rulegen.model import Group, Rule, RuleFile
from exporter.rulegen.recording import (
    DURATION,
    TTFB,
    availability_burn,
    latency_burn,
)
from exporter.thresholds import LatencyLevels, Levels, Thresholds

SPIKE_WINDOW = "1m"
SPIKE_FOR = "1m"
GPU_ERRORS_WINDOW = "10m"
GPU_SEEN_WINDOW = "1h"
RECORDED_QUANTILES = (0.5, 0.95, 0.99)

JOB = "{{ $labels.job }}"
ROUTE = "{{ $labels.route }}"
INSTANCE = "{{ $labels.instance }}"
AS_DURATION = "{{ $value | humanizeDuration }}"
AS_PERCENT = "{{ $value | humanizePercentage }}"


@dataclass(frozen=True)
class Burn:
    """One pair of windows of the multi-window, multi-burn-rate SLO alerts."""

    severity: str
    long: str
    short: str
    budget_share: float  # share of the period's budget spent in the long window
    for_: str


PAGE = Burn("critical", "1h", "5m", 0.02, "2m")
TICKET = Burn("warning", "6h", "30m", 0.05, "15m")


def burn_factor(t: Thresholds, burn: Burn) -> float:
    """14.4 for the page and 6 for the ticket with a 30-day period."""
    return round(burn.budget_share * promql.seconds(t.slo.period) / promql.seconds(burn.long), 6)


def _alert(
    t: Thresholds,
    name: str,
    comment: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    route: str | None = None,
) -> Rule:
    return Rule(
        comment=comment,
        alert=name,
        expr=expr,
        for_=for_,
        # the route repeats the series' own label; it tells promtool's duplicate-rule lint
        # that a route's override and the rule for every other route are different rules
        labels={"severity": severity, **({"route": route} if route else {})},
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": f"{t.runbook_url}#{name.lower()}",
        },
        route=route,
    )


def _levels(levels: Levels | LatencyLevels) -> list[tuple[str, float]]:
    pairs = (("warning", levels.warning), ("critical", levels.critical))
    return [(severity, value) for severity, value in pairs if value is not None]


_L = TypeVar("_L", Levels, LatencyLevels)


def scopes(base: _L, per_route: Mapping[str, _L]) -> list[tuple[str | None, _L, str]]:
    """(route or None for every other route, levels, matchers) for one kind of threshold.

    A route whose levels are the global ones gets no rule of its own.
    """
    overridden = sorted(route for route, levels in per_route.items() if levels != base)
    out: list[tuple[str | None, _L, str]] = [(None, base, promql.route_matchers(None, overridden))]
    out += [(r, per_route[r], promql.route_matchers(r)) for r in overridden]
    return out


def _guard(t: Thresholds, labels: str, w: str = "5m") -> str:
    return f"and on ({labels}) {labels.replace(', ', '_')}:http_server_requests:rate{w} >= " + (
        promql.num(t.min_request_rate)
    )


def quantile_name(q: float) -> str:
    return f"p{q * 100:g}"


def _quantile_alerts(t: Thresholds, name: str, metric: str) -> list[Rule]:
    if metric == DURATION:
        base = t.response_time
        per_route = {r: o.response_time for r, o in t.routes.items()}
        what, title = "response time", "Response time"
    else:
        base = t.latency
        per_route = {r: o.latency for r, o in t.routes.items()}
        what, title = "time to first byte", "Time to first byte"
    rules = []
    for route, levels, matchers in scopes(base, per_route):
        q = levels.quantile
        if q in RECORDED_QUANTILES:
            value = f"job_route:{metric}:{quantile_name(q)}_5m{matchers}"
        else:
            value = promql.quantile(metric, q, ("job", "route"), matchers)
        where = f"route {route}" if route else "a route"
        for severity, threshold in _levels(levels):
            limit = promql.human_seconds(threshold)
            rules.append(
                _alert(
                    t,
                    name,
                    comment=f"{quantile_name(q)} {what} of {where} over {limit} for "
                    f"{levels.for_} ({severity})",
                    expr=f"{value} > {promql.num(threshold)}\n{_guard(t, 'job, route')}",
                    for_=levels.for_,
                    severity=severity,
                    summary=f"{title} {quantile_name(q)} of {ROUTE} over {limit}",
                    description=f"The {quantile_name(q)} {what} of route {ROUTE} on job {JOB} "
                    f"is {AS_DURATION}, over the {severity} threshold of {limit}.",
                    route=route,
                )
            )
    return rules


def _throughput_alerts(t: Thresholds) -> list[Rule]:
    rules = []
    for severity, threshold in _levels(t.throughput):
        rules.append(
            _alert(
                t,
                "LowThroughput",
                comment=f"a job serving fewer than {threshold:g} requests/s for "
                f"{t.throughput.for_} ({severity})",
                expr="(\n"
                "  job:http_server_requests:rate5m\n"
                "  or on (job) 0 * group by (job) (exporter_build_info)\n"
                f") < {promql.num(threshold)}\n"
                "and on (job) group by (job) (exporter_build_info offset 5m)",
                for_=t.throughput.for_,
                severity=severity,
                summary=f"{JOB} serves fewer than {threshold:g} requests/s",
                description=f'Job {JOB} served {{{{ printf "%.2f" $value }}}} requests/s over '
                f"the last 5 minutes, under the {severity} level of {threshold:g} requests/s.",
            )
        )
    return rules


def _error_alerts(t: Thresholds) -> list[Rule]:
    rules = []
    per_route = {r: o.error_rate for r, o in t.routes.items()}
    for route, levels, matchers in scopes(t.error_rate, per_route):
        where = f"route {route}" if route else "a route"
        for severity, threshold in _levels(levels):
            rules.append(
                _alert(
                    t,
                    "HighErrorRate",
                    comment=f"more than {threshold * 100:g}% of the requests of {where} "
                    f"answered 5xx for {levels.for_} ({severity})",
                    expr=f"job_route:http_server_request_errors:ratio_rate5m{matchers} > "
                    f"{promql.num(threshold)}\n{_guard(t, 'job, route')}",
                    for_=levels.for_,
                    severity=severity,
                    summary=f"{ROUTE} answers 5xx to more than {threshold * 100:g}% of requests",
                    description=f"Route {ROUTE} on job {JOB} answered {AS_PERCENT} of its "
                    f"requests with a 5xx status over the last 5 minutes, over the {severity} "
                    f"threshold of {threshold * 100:g}%.",
                    route=route,
                )
            )
    level = _levels(t.error_rate)[-1:]
    for severity, threshold in level:
        rules.append(
            _alert(
                t,
                "HighErrorRateSpike",
                comment=f"more than {threshold * 100:g}% of a job's requests answered 5xx in the "
                f"last {SPIKE_WINDOW}: reacts before HighErrorRate's {t.error_rate.for_}",
                expr=f"job:http_server_request_errors:ratio_rate{SPIKE_WINDOW} > "
                f"{promql.num(threshold)}\n{_guard(t, 'job', SPIKE_WINDOW)}",
                for_=SPIKE_FOR,
                severity=severity,
                summary=f"Error spike on {JOB}",
                description=f"Job {JOB} answered {AS_PERCENT} of its requests with a 5xx status "
                f"in the last {SPIKE_WINDOW}, over {threshold * 100:g}%.",
            )
        )
    return rules


def _degradation_alert(t: Thresholds) -> Rule:
    d = t.degradation
    metric = DURATION

    def mean(offset: str) -> str:
        return (
            f"sum by (job) (rate({metric}_sum[{d.window}]{offset}))\n"
            f"/ (sum by (job) (rate({metric}_count[{d.window}]{offset})) > 0)"
        )

    traffic = f"sum by (job) (rate({metric}_count[{d.window}]{{}})) >= " + promql.num(
        t.min_request_rate
    )
    return _alert(
        t,
        "PerformanceDegradation",
        comment=f"a job's average response time over {d.window} at least {d.factor:g}x the same "
        f"window {d.offset} earlier, with enough traffic in both",
        expr=f"{mean('')}\n>= {promql.num(d.factor)} * (\n"
        + "\n".join("  " + line for line in mean(f" offset {d.offset}").splitlines())
        + "\n)\n"
        + f"and on (job) {traffic.format('')}\n"
        + f"and on (job) {traffic.format(f' offset {d.offset}')}",
        for_=d.for_,
        severity="warning",
        summary=f"{JOB} is {d.factor:g}x slower than {d.offset} ago",
        description=f"The average response time of job {JOB} over the last {d.window} is "
        f"{AS_DURATION}, at least {d.factor:g}x the same window {d.offset} earlier.",
    )


def api_alerts(t: Thresholds) -> RuleFile:
    return RuleFile(
        name="api.alerts.yml",
        about="What users of the API feel: response time, time to first byte, throughput, "
        "errors, degradation.",
        groups=(
            Group(
                "api-response-time",
                tuple(
                    _quantile_alerts(t, "HighResponseTime", DURATION)
                    + _quantile_alerts(t, "HighLatency", TTFB)
                ),
            ),
            Group("api-throughput", tuple(_throughput_alerts(t))),
            Group("api-errors", tuple(_error_alerts(t))),
            Group("api-degradation", (_degradation_alert(t),)),
        ),
    )


def _usage_alerts(
    t: Thresholds, name: str, levels: Levels, record: str, what: str, where: str
) -> list[Rule]:
    return [
        _alert(
            t,
            name,
            comment=f"{what} over {threshold * 100:g}% for {levels.for_} ({severity})",
            expr=f"{record} > {promql.num(threshold)}",
            for_=levels.for_,
            severity=severity,
            summary=f"{what[0].upper()}{what[1:]} of {where} over {threshold * 100:g}%",
            description=f"{what[0].upper()}{what[1:]} of {where} (job {JOB}) is {AS_PERCENT}, "
            f"over the {severity} threshold of {threshold * 100:g}%.",
        )
        for severity, threshold in _levels(levels)
    ]


def resource_alerts(t: Thresholds) -> RuleFile:
    gpu = "GPU {{ $labels.gpu }} ({{ $labels.name }}) of " + INSTANCE
    failing = _alert(
        t,
        "GpuCollectorFailing",
        comment="the GPU collector keeps failing on an instance that has shown GPU metrics in "
        f"the last {GPU_SEEN_WINDOW} (hosts that never had a GPU stay quiet)",
        expr=f'increase(exporter_collector_errors_total{{collector="gpu"}}[{GPU_ERRORS_WINDOW}])'
        " > 0\nand on (job, instance)\n"
        f"group by (job, instance) (max_over_time(gpu_memory_total_bytes[{GPU_SEEN_WINDOW}]))",
        for_=t.for_,
        severity="warning",
        summary=f"GPU metrics of {INSTANCE} are failing",
        description=f"The GPU collector of {INSTANCE} (job {JOB}) failed "
        f'{{{{ printf "%.0f" $value }}}} times in the last {GPU_ERRORS_WINDOW}; GPU samples are '
        "missing from its scrapes.",
    )
    return RuleFile(
        name="resources.alerts.yml",
        about="Host and GPU usage of the instances that run the exporter.",
        groups=(
            Group(
                "resources",
                tuple(
                    _usage_alerts(
                        t,
                        "HighCpuUsage",
                        t.cpu,
                        "instance:system_cpu_utilization:ratio_rate5m",
                        "CPU usage",
                        INSTANCE,
                    )
                    + _usage_alerts(
                        t,
                        "HighMemoryUsage",
                        t.memory,
                        "instance:system_memory_utilization:ratio",
                        "memory usage",
                        INSTANCE,
                    )
                    + _usage_alerts(
                        t,
                        "HighGpuUsage",
                        t.gpu,
                        "instance_gpu:gpu_utilization:ratio_avg1m",
                        "utilisation",
                        gpu,
                    )
                    + [failing]
                ),
            ),
        ),
    )


def _burn_alerts(
    t: Thresholds, name: str, record: Callable[[str], str], what: str, objective: float
) -> list[Rule]:
    rules = []
    for burn in (PAGE, TICKET):
        factor = promql.num(burn_factor(t, burn))
        rules.append(
            _alert(
                t,
                name,
                comment=f"{what} error budget burning over {factor}x in the last {burn.long} "
                f"and {burn.short} ({'page' if burn is PAGE else 'ticket'})",
                expr=f"{record(burn.long)} > {factor}\n"
                f"and on (job) {record(burn.short)} > {factor}\n"
                f"{_guard(t, 'job')}",
                for_=burn.for_,
                severity=burn.severity,
                summary=f"{JOB} is burning its {what} error budget {factor}x too fast",
                description=f"Job {JOB} spends its {what} error budget "
                f'({objective * 100:g}% over {t.slo.period}) {{{{ printf "%.1f" $value }}}}x '
                f"faster than sustainable over the last {burn.long} (and over {factor}x in the "
                f"last {burn.short}): at this pace {burn.budget_share * 100:g}% of the budget "
                f"goes in {burn.long}.",
            )
        )
    return rules


def slo_alerts(t: Thresholds) -> RuleFile:
    return RuleFile(
        name="slo.alerts.yml",
        about="Multi-window, multi-burn-rate SLO alerts: page when 2% of the period's error "
        "budget goes in an hour,\nticket when 5% goes in six hours; the short window makes "
        "them stop soon after the burn does.",
        groups=(
            Group(
                "slo",
                tuple(
                    _burn_alerts(
                        t,
                        "SLOAvailabilityBudgetBurn",
                        availability_burn,
                        "availability",
                        t.slo.availability,
                    )
                    + _burn_alerts(
                        t,
                        "SLOLatencyBudgetBurn",
                        latency_burn,
                        f"latency ({promql.human_seconds(t.slo.latency_threshold)})",
                        t.slo.latency,
                    )
                ),
            ),
        ),
    )


def health_alerts(t: Thresholds) -> RuleFile:
    rules = (
        _alert(
            t,
            "Watchdog",
            comment="always firing: proves that rules are evaluated and alerts delivered",
            expr="vector(1)",
            for_="0s",
            severity="none",
            summary="Alerting pipeline heartbeat",
            description="This alert always fires. If it stops arriving, Prometheus, "
            "Alertmanager or the route between them is broken.",
        ),
        _alert(
            t,
            "TargetDown",
            comment=f"a scrape target not answering for {t.for_}",
            expr="up == 0",
            for_=t.for_,
            severity="critical",
            summary=f"{JOB} target {INSTANCE} is down",
            description=f"Prometheus has failed to scrape {INSTANCE} (job {JOB}) for "
            f"{t.for_}: its metrics are missing.",
        ),
        _alert(
            t,
            "ExporterMetricsAbsent",
            comment="no target exposes the exporter's metrics (job removed, relabelled away, "
            "or the app not instrumented)",
            expr="absent(exporter_build_info)",
            for_=t.for_,
            severity="critical",
            summary="No instrumented application is being scraped",
            description=f"No scraped target has exposed exporter_build_info for {t.for_}: "
            "the API metrics and every alert built on them are gone.",
        ),
        _alert(
            t,
            "EndpointProbeFailed",
            comment="the blackbox probe of a health endpoint failing for " + t.for_,
            expr="probe_success == 0",
            for_=t.for_,
            severity="critical",
            summary=f"Probe of {INSTANCE} failing",
            description=f"The blackbox exporter has failed to get a 2xx from {INSTANCE} for "
            f"{t.for_} (job {JOB}).",
        ),
    )
    return RuleFile(
        name="health.alerts.yml",
        about="Is monitoring itself working: heartbeat, scrape targets, exporter metrics, probes.",
        groups=(Group("health", rules),),
    )
