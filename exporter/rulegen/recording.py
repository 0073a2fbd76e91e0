"""The recording rules that depend on thresholds.yml: shares of slow requests and the SLOs.

``thresholds.rules.yml``: for every time threshold of the file, the share of requests slower
than it, per job and per route (exact, since thresholds are bucket boundaries).
``slo.rules.yml``: the SLO objectives as series, the latency SLI, and the burn rates of both
SLOs over the windows of the multi-window alerts. Both read the hand-written http.rules.yml.
"""

from __future__ import annotations

from exporter.rulegen import promql
from exporter.rulegen.model import Group, Rule, RuleFile
from exporter.thresholds import Thresholds

DURATION = "http_server_request_duration_seconds"
TTFB = "http_server_time_to_first_byte_seconds"
LEVELS = (("job",), ("job", "route"))
#: windows of the burn-rate alerts: (long, short) for the page and for the ticket
SLO_WINDOWS = ("5m", "30m", "1h", "6h")

_WHAT = {
    DURATION: "response time (request received -> last byte sent)",
    TTFB: "time to first byte",
}


def level_name(labels: tuple[str, ...]) -> str:
    return "_".join(labels)


def threshold_ms(seconds: float) -> str:
    return f"{seconds * 1000:g}"


def time_thresholds(t: Thresholds) -> dict[str, list[float]]:
    """Every distinct threshold (seconds) of each histogram, sorted."""
    found: dict[str, set[float]] = {DURATION: {t.slo.latency_threshold}, TTFB: set()}
    scopes = [(t.response_time, t.latency)]
    scopes += [(r.response_time, r.latency) for r in t.routes.values()]
    for response_time, latency in scopes:
        for metric, levels in ((DURATION, response_time), (TTFB, latency)):
            found[metric].update(v for v in (levels.warning, levels.critical) if v is not None)
    return {metric: sorted(values) for metric, values in found.items()}


def bucket_index(t: Thresholds, seconds: float) -> int:
    return min(range(len(t.buckets)), key=lambda i: abs(t.buckets[i] - seconds))


def slower_record(metric: str, labels: tuple[str, ...], w: str = "5m") -> str:
    return f"{level_name(labels)}:{metric}:slower_ratio_rate{w}"


def threshold_rules(t: Thresholds) -> RuleFile:
    rules = []
    for metric, values in time_thresholds(t).items():
        for value in values:
            for labels in LEVELS:
                who = "each job" if labels == ("job",) else "each route of each job"
                rules.append(
                    Rule(
                        comment=f"share of requests of {who} whose {_WHAT[metric]} was over "
                        f"{promql.human_seconds(value)}, last 5 minutes",
                        record=slower_record(metric, labels),
                        expr=promql.slower_ratio(
                            metric, labels, bucket_index(t, value), len(t.buckets), "5m"
                        ),
                        labels={"threshold_ms": threshold_ms(value)},
                    )
                )
    return RuleFile(
        name="thresholds.rules.yml",
        about="Share of requests slower than each time threshold of the thresholds file, per "
        "job and per route\n(label threshold_ms). See exporter/rulegen/promql.py for why the "
        "bucket is picked by position.",
        groups=(Group("slow-requests", tuple(rules)),),
    )


def budget(objective: float) -> str:
    """The error budget ``1 - objective`` as a PromQL number."""
    return promql.num(round(1 - objective, 12))


def availability_burn(w: str) -> str:
    return f"job:slo_availability:burnrate{w}"


def latency_burn(w: str) -> str:
    return f"job:slo_latency:burnrate{w}"


def latency_errors(w: str) -> str:
    return f"job:slo_latency_errors:ratio_rate{w}"


def slo_rules(t: Thresholds) -> RuleFile:
    slo = t.slo
    limit = promql.human_seconds(slo.latency_threshold)
    objectives = (
        Rule(
            comment="availability objective: share of requests not answered 5xx, over "
            + slo.period,
            record="slo:objective:ratio",
            expr=f"vector({promql.num(slo.availability)})",
            labels={"slo": "availability", "period": slo.period},
        ),
        Rule(
            comment=f"latency objective: share of requests answered within {limit}, "
            f"over {slo.period}",
            record="slo:objective:ratio",
            expr=f"vector({promql.num(slo.latency)})",
            labels={
                "slo": "latency",
                "period": slo.period,
                "threshold_ms": threshold_ms(slo.latency_threshold),
            },
        ),
    )
    availability = tuple(
        Rule(
            comment=f"how fast each job spends its availability error budget, last {w} "
            "(1 = exactly the budget over the period)",
            record=availability_burn(w),
            expr=f"job:http_server_request_errors:ratio_rate{w} / {budget(slo.availability)}",
        )
        for w in SLO_WINDOWS
    )
    index = bucket_index(t, slo.latency_threshold)
    latency: list[Rule] = []
    for w in SLO_WINDOWS:
        latency.append(
            Rule(
                comment=f"share of requests of each job slower than {limit}, last {w}",
                record=latency_errors(w),
                expr=promql.slower_ratio(DURATION, ("job",), index, len(t.buckets), w),
            )
        )
        latency.append(
            Rule(
                comment=f"how fast each job spends its latency error budget, last {w}",
                record=latency_burn(w),
                expr=f"{latency_errors(w)} / {budget(slo.latency)}",
            )
        )
    return RuleFile(
        name="slo.rules.yml",
        about=f"SLOs of every job: availability {slo.availability * 100:g}% and latency "
        f"{slo.latency * 100:g}% within {limit}, over {slo.period}.\n"
        "Burn rate = share of bad requests / error budget; idle windows yield no sample.",
        groups=(
            Group("slo-objectives", objectives),
            Group("slo-availability", availability),
            Group("slo-latency", tuple(latency)),
        ),
    )
