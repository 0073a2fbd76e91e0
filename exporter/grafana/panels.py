"""Building blocks shared by the dashboards, on top of Grafana's Foundation SDK.

Each panel function requires a title, a description and a unit, and points the panel and its
queries at the ``$datasource`` variable, so no dashboard can leave them out; the dashboard
skeleton adds the variables, the links between dashboards and the alert annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import heatmap, stat, table, timeseries
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from exporter.grafana import TAG
from exporter.thresholds import LatencyLevels, Levels

#: every panel, query, variable and annotation uses the dashboard's datasource variable
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


@dataclass(frozen=True)
class Target:
    """One query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    format: PromQueryFormat | None = None


def _query(target: Target, ref_id: str) -> Dataquery:
    q = Dataquery().expr(target.expr).ref_id(ref_id).datasource(DATASOURCE)
    q = q.legend_format(target.legend or "__auto")
    q = q.instant() if target.instant else q.range()
    if target.format is not None:
        q = q.format(target.format)
    return q


def _ref(i: int) -> str:
    return chr(ord("A") + i)


# --- thresholds -------------------------------------------------------------------------------


def rising(levels: Levels | LatencyLevels) -> list[model.Threshold]:
    """Green, orange from the warning level, red from the critical level (either may be unset)."""
    steps = [model.Threshold(value=None, color=GREEN)]
    if levels.warning is not None:
        steps.append(model.Threshold(value=levels.warning, color=ORANGE))
    if levels.critical is not None:
        steps.append(model.Threshold(value=levels.critical, color=RED))
    return steps


def falling(levels: Levels) -> list[model.Threshold]:
    """For "too low" levels (throughput): red below critical, orange below warning, else green."""
    base = RED if levels.critical is not None else ORANGE
    steps = [model.Threshold(value=None, color=base)]
    if levels.critical is not None and levels.warning is not None:
        steps.append(model.Threshold(value=levels.critical, color=ORANGE))
    if levels.warning is not None:
        steps.append(model.Threshold(value=levels.warning, color=GREEN))
    elif levels.critical is not None:
        steps.append(model.Threshold(value=levels.critical, color=GREEN))
    return steps


def at_least(objective: float) -> list[model.Threshold]:
    """Red below ``objective``, green from it (SLIs, remaining budget)."""
    return [model.Threshold(value=None, color=RED), model.Threshold(value=objective, color=GREEN)]


def neutral() -> list[model.Threshold]:
    """One colour: for values the thresholds file sets no level for."""
    return [model.Threshold(value=None, color=BLUE)]


def _thresholds(steps: Sequence[model.Threshold]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(list(steps))


# --- panels -----------------------------------------------------------------------------------


def stat_panel(
    title: str,
    description: str,
    unit: str,
    target: Target,
    steps: Sequence[model.Threshold],
    width: int = 4,
    height: int = 4,
    decimals: int | None = None,
) -> stat.Panel:
    """A headline number, coloured by ``steps``, with a sparkline of the range."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(_query(target, "A"))
        .thresholds(_thresholds(steps))
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(width)
        .height(height)
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Target],
    steps: Sequence[model.Threshold] | None = None,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> timeseries.Panel:
    """A time series; with ``steps``, the thresholds are drawn as dashed lines."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .targets([_query(t, _ref(i)) for i, t in enumerate(targets)])
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .fill_opacity(20 if stacked else 10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .span(width)
        .height(height)
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if steps is not None:
        panel = panel.thresholds(_thresholds(steps)).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


@dataclass(frozen=True)
class Column:
    """One query of a table, shown as one column named ``name`` in ``unit``."""

    name: str
    expr: str
    unit: str


def table_panel(
    title: str,
    description: str,
    unit: str,
    columns: Sequence[Column],
    join_on: Sequence[str],
    sort_by: str,
    descending: bool = True,
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    """Instant queries merged into one row per ``join_on`` labels, sorted by a column."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .targets(
            [
                _query(Target(c.expr, instant=True, format=PromQueryFormat.TABLE), _ref(i))
                for i, c in enumerate(columns)
            ]
        )
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "indexByName": {label: i for i, label in enumerate(join_on)},
                    "renameByName": {f"Value #{_ref(i)}": c.name for i, c in enumerate(columns)},
                },
            )
        )
        .sort_by([common_builders.TableSortByFieldState().display_name(sort_by).desc(descending)])
        .span(width)
        .height(height)
    )
    # overrides see the fields after the transformations, under their new names
    for column in columns:
        panel = panel.override_by_name(
            column.name, [model.DynamicConfigValue(id_val="unit", value=column.unit)]
        )
    return panel


def alerts_table(title: str, description: str, expr: str, width: int = 24) -> table.Panel:
    """Alerts as Prometheus reports them in its ``ALERTS`` series, one row per alert."""
    hidden = {"Time": True, "Value": True, "__name__": True, "alertstate": True}
    return (
        table.Panel()
        .title(title)
        .description(description)
        .unit("none")
        .datasource(DATASOURCE)
        .with_target(_query(Target(expr, instant=True, format=PromQueryFormat.TABLE), "A"))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": hidden,
                    "indexByName": {"alertname": 0, "severity": 1, "job": 2, "instance": 3},
                },
            )
        )
        .no_value("No alert is firing")
        .span(width)
        .height(6)
    )


def heatmap_panel(
    title: str, description: str, expr: str, width: int = 12, height: int = 8
) -> heatmap.Panel:
    """Counts per histogram bucket over time; Prometheus' buckets are used as they are."""
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .unit("s")
        .datasource(DATASOURCE)
        .with_target(_query(Target(expr, legend="{{le}}", format=PromQueryFormat.HEATMAP), "A"))
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit("s"))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .steps(64)
            .exponent(0.5)
            .fill("dark-orange")
        )
        .cell_gap(1)
        .span(width)
        .height(height)
    )


def row(title: str) -> dash.Row:
    return dash.Row(title)


# --- dashboard skeleton -----------------------------------------------------------------------


def _label_variable(name: str, label: str, query: str, description: str) -> dash.QueryVariable:
    return (
        dash.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def dashboard(title: str, uid: str, description: str) -> dash.Dashboard:
    """A dashboard with the datasource, job, instance and route variables, links to the other
    dashboards (keeping the time range and variables) and firing alerts as annotations."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .readonly()  # provisioned from files: changes belong in the code, not the UI
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dash.DatasourceVariable("datasource")
            .label("Data source")
            .description("The Prometheus that scrapes the exporter.")
            .type("prometheus")
        )
        .with_variable(
            _label_variable(
                "job",
                "Job",
                "label_values(exporter_build_info, job)",
                "Prometheus jobs that scrape an api-perf exporter.",
            )
        )
        .with_variable(
            _label_variable(
                "instance",
                "Instance",
                'label_values(exporter_build_info{job=~"$job"}, instance)',
                "Scraped processes of the selected jobs.",
            )
        )
        .with_variable(
            _label_variable(
                "route",
                "Route",
                'label_values(http_server_request_duration_seconds_count{job=~"$job", '
                'instance=~"$instance"}, route)',
                "Route templates served by the selected instances.",
            )
        )
        .link(
            dash.DashboardLink("API performance dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )


class AlertAnnotation(model.AnnotationQuery):
    """Firing alerts from Prometheus' ``ALERTS`` series, titled by alert name and tagged with
    severity, job and instance (fields of Grafana's Prometheus annotations the SDK lacks)."""

    def __init__(self) -> None:
        super().__init__(
            name="Firing alerts",
            datasource=DATASOURCE,
            enable=True,
            icon_color="red",
            expr='ALERTS{alertstate="firing"}',
        )

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update(
            {
                "step": "60s",
                "titleFormat": "{{alertname}}",
                "textFormat": "{{alertname}} ({{severity}}) on {{job}} {{instance}}",
                "tagKeys": "severity,job,instance,route",
                "useValueForTime": False,
            }
        )
        return payload


def finish(builder: dash.Dashboard) -> model.Dashboard:
    """Build the dashboard: add the alert annotations and number the panels in layout order."""
    built = builder.build()
    built.annotations = model.AnnotationContainer(list_val=[AlertAnnotation()])
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return built
