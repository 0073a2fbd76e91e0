"""The "SLO" dashboard: availability and latency SLIs, error budget left, burn rates.

Objectives, period and latency threshold come from the ``slo`` section of
``prometheus/thresholds.yml``. Everything is computed from the raw request histogram (no
recording rule needed): availability = share of non-5xx responses, latency SLI = share of
requests completed within the threshold (a bucket boundary, so exact).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import dashboard as model

from exporter.grafana import SLO_UID
from exporter.grafana import promql as q
from exporter.grafana.panels import (
    GREEN,
    ORANGE,
    RED,
    Column,
    Target,
    at_least,
    dashboard,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from exporter.thresholds import Thresholds

TITLE = "API performance: SLO"

#: multi-window multi-burn-rate alerting (DESIGN §5): page when both the long and the short
#: window burn 14.4x (2 % of a 30-day budget in 1 h), ticket at 6x (5 % in 6 h)
PAGE_BURN_RATE = 14.4
TICKET_BURN_RATE = 6.0
BURN_WINDOWS = ("5m", "30m", "1h", "6h")


def _burn_steps() -> list[model.Threshold]:
    return [
        model.Threshold(value=None, color=GREEN),
        model.Threshold(value=TICKET_BURN_RATE, color=ORANGE),
        model.Threshold(value=PAGE_BURN_RATE, color=RED),
    ]


def build(t: Thresholds) -> Dashboard:
    slo = t.slo
    period = slo.period
    threshold_ms = f"{slo.latency_threshold * 1000:g} ms"
    avail_pct = f"{slo.availability * 100:g} %"
    latency_pct = f"{slo.latency * 100:g} %"

    def availability(window: str = q.RATE_INTERVAL, fn: str = "rate") -> str:
        return q.availability(window=window, fn=fn)

    def latency(window: str = q.RATE_INTERVAL, fn: str = "rate") -> str:
        return q.latency_sli(slo.latency_threshold, window=window, fn=fn)

    d = dashboard(
        TITLE,
        SLO_UID,
        f"Availability ({avail_pct} non-5xx) and latency ({latency_pct} within "
        f"{threshold_ms}) objectives over {period}, from the slo section of "
        "prometheus/thresholds.yml.",
    )

    d = d.with_row(row(f"Objectives over {period}"))
    d = d.with_panel(
        stat_panel(
            f"Availability ({period})",
            f"Share of responses that were not 5xx over the last {period}. Objective "
            f"{avail_pct}: red below it.",
            "percentunit",
            Target(availability(period, "increase")),
            at_least(slo.availability),
            width=6,
            decimals=3,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Availability error budget left",
            f"Share of the {period} error budget ({100 - slo.availability * 100:g} % of "
            "requests may fail) not yet spent; below 0 the objective is missed.",
            "percentunit",
            Target(q.budget_remaining(availability(period, "increase"), slo.availability)),
            at_least(0),
            width=6,
            decimals=1,
        )
    )
    d = d.with_panel(
        stat_panel(
            f"Latency SLI ({period})",
            f"Share of requests completed within {threshold_ms} over the last {period}. "
            f"Objective {latency_pct}: red below it.",
            "percentunit",
            Target(latency(period, "increase")),
            at_least(slo.latency),
            width=6,
            decimals=3,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Latency error budget left",
            f"Share of the {period} latency budget ({100 - slo.latency * 100:g} % of requests "
            f"may take longer than {threshold_ms}) not yet spent; below 0 the objective is "
            "missed.",
            "percentunit",
            Target(q.budget_remaining(latency(period, "increase"), slo.latency)),
            at_least(0),
            width=6,
            decimals=1,
        )
    )

    d = d.with_row(row("SLIs over time"))
    d = d.with_panel(
        timeseries_panel(
            "Availability",
            f"Share of non-5xx responses per interval; the dashed line is the {avail_pct} "
            "objective.",
            "percentunit",
            [Target(availability(), "availability")],
            steps=at_least(slo.availability),
            maximum=1,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            f"Requests within {threshold_ms}",
            f"Share of requests completed within {threshold_ms} per interval; the dashed line "
            f"is the {latency_pct} objective.",
            "percentunit",
            [Target(latency(), "latency SLI")],
            steps=at_least(slo.latency),
            maximum=1,
        )
    )

    d = d.with_row(row("Burn rates"))
    burn_help = (
        "1 = spending the error budget exactly over the SLO period. Dashed lines: "
        f"{TICKET_BURN_RATE:g}x (ticket when the 6h and 30m windows are both above) and "
        f"{PAGE_BURN_RATE:g}x (page when the 1h and 5m windows are both above)."
    )
    d = d.with_panel(
        timeseries_panel(
            "Availability burn rate",
            f"How fast 5xx responses spend the availability budget, over {', '.join(BURN_WINDOWS)}"
            f". {burn_help}",
            "short",
            [
                Target(q.burn_rate(availability(w, "increase"), slo.availability), w)
                for w in BURN_WINDOWS
            ],
            steps=_burn_steps(),
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Latency burn rate",
            f"How fast requests slower than {threshold_ms} spend the latency budget, over "
            f"{', '.join(BURN_WINDOWS)}. {burn_help}",
            "short",
            [Target(q.burn_rate(latency(w, "increase"), slo.latency), w) for w in BURN_WINDOWS],
            steps=_burn_steps(),
            minimum=0,
        )
    )

    d = d.with_row(row("By route"))
    d = d.with_panel(
        table_panel(
            "SLIs by route",
            "Availability and latency SLI of each route over the dashboard's time range, "
            "least available first.",
            "percentunit",
            [
                Column(
                    "availability",
                    q.availability(["route"], q.RANGE, "increase"),
                    "percentunit",
                ),
                Column(
                    f"within {threshold_ms}",
                    q.latency_sli(slo.latency_threshold, ["route"], q.RANGE, "increase"),
                    "percentunit",
                ),
                Column(
                    "requests",
                    q.rate_sum(f"{q.REQUESTS}_count", by=["route"], window=q.RANGE, fn="increase"),
                    "short",
                ),
            ],
            join_on=["route"],
            sort_by="availability",
            descending=False,
            width=24,
        )
    )
    return d
