"""Lint rules for the committed dashboards, modelled on Grafana's dashboard-linter.

Each test names the dashboard-linter rule it follows where there is one; the others are this
project's own rules (route variable, links, alert annotations, no hard-coded datasource uid,
layout, histogram aggregation). PromQL validity is checked by promtool on every expression with
its variables substituted.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.grafana import API_UID, RESOURCES_UID, SLO_UID, TAG
from exporter.stack.servers import find_binary
from tests.dashboards import (
    DASHBOARD_DIR,
    DATASOURCE_REF,
    FILES,
    load,
    panels,
    queries,
    selectors,
    substitute,
)

# Grafana's unit ids (packages/grafana-data/src/valueFormats/categories.ts), those that fit
# this project's metrics
VALID_UNITS = {
    "none", "short", "percent", "percentunit", "bytes", "decbytes", "bits", "Bps", "binBps",
    "bps", "s", "ms", "µs", "ns", "m", "h", "d", "dtdurations", "reqps", "rps", "ops", "cps",
    "iops", "watt", "kwatt", "celsius", "fahrenheit", "hertz", "bool",
}  # fmt: skip

VARIABLE_LABELS = {"job": "Job", "instance": "Instance", "route": "Route"}
ROUTE_METRIC = re.compile(
    r"^(http_server_request_duration_seconds|http_server_time_to_first_byte_seconds"
    r"|http_server_exceptions_total)"
)
# counters, and the series of histograms (a gauge whose name ends in _count is no histogram)
COUNTER = re.compile(r"(_total|_(seconds|bytes)_(bucket|count|sum))$")
# ALERTS carries the labels of each alert's own rule: the alert list shows every firing alert
UNFILTERED_METRICS = {"ALERTS"}

LINT_VALUES = {
    "datasource": "prometheus",
    "job": ".+",
    "instance": ".+",
    "route": ".+",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "__range_s": "3600",
}


@pytest.fixture(params=FILES)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def _variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def test_the_dashboard_directory_holds_exactly_the_three_dashboards_with_fixed_uids() -> None:
    assert sorted(p.name for p in DASHBOARD_DIR.glob("*.json")) == sorted(FILES)
    uids = {name: load(name)["uid"] for name in FILES}
    assert uids == {
        "api-performance.json": API_UID,
        "resources.json": RESOURCES_UID,
        "slo.json": SLO_UID,
    }


def test_template_datasource_rule_one_prometheus_variable_named_datasource(
    dashboard: dict[str, Any],
) -> None:
    datasources = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert len(datasources) == 1
    assert datasources[0]["name"] == "datasource"
    assert datasources[0]["label"] == "Data source"
    assert datasources[0]["query"] == "prometheus"


@pytest.mark.parametrize("name", sorted(VARIABLE_LABELS))
def test_template_job_instance_rules_label_variables_are_multi_value_queries_on_the_datasource(
    dashboard: dict[str, Any], name: str
) -> None:
    variable = _variables(dashboard).get(name)
    assert variable is not None, f"{dashboard['title']}: no ${name} variable"
    assert variable["type"] == "query"
    assert variable["datasource"] == DATASOURCE_REF
    assert variable["label"] == VARIABLE_LABELS[name]
    assert variable["multi"] is True
    assert variable["includeAll"] is True
    assert variable["allValue"] == ".+"
    # template-on-time-change-reload-rule
    assert variable["refresh"] == 2
    # template-label-promql-rule (the selector's PromQL is checked by promtool below)
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"])
    assert match is not None, variable["query"]
    assert match.group(2) == name


def test_variables_are_chained_so_each_lists_only_values_of_the_selection_before_it(
    dashboard: dict[str, Any],
) -> None:
    variables = _variables(dashboard)
    assert 'job=~"$job"' in variables["instance"]["query"]
    assert 'job=~"$job"' in variables["route"]["query"]
    assert 'instance=~"$instance"' in variables["route"]["query"]


def test_uneditable_rule_provisioned_dashboards_are_not_editable(
    dashboard: dict[str, Any],
) -> None:
    assert dashboard["editable"] is False


def test_panel_datasource_rule_every_panel_and_target_uses_the_datasource_variable(
    dashboard: dict[str, Any],
) -> None:
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]


def _datasource_refs(node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.append(value)
            found.extend(_datasource_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_datasource_refs(item))
    return found


def test_no_datasource_uid_is_hard_coded_anywhere_in_the_dashboard(
    dashboard: dict[str, Any],
) -> None:
    refs = _datasource_refs(dashboard)
    assert refs, "expected datasource references"
    for ref in refs:
        assert ref == DATASOURCE_REF, ref
    provisioned = yaml.safe_load(
        Path("grafana/provisioning/datasources/datasources.yml").read_text()
    )
    text = Path(DASHBOARD_DIR / f"{_file_of(dashboard)}").read_text()
    for source in provisioned["datasources"]:
        assert f'"uid": "{source["uid"]}"' not in text


def _file_of(dashboard: dict[str, Any]) -> str:
    return next(name for name in FILES if load(name)["uid"] == dashboard["uid"])


def test_panel_title_description_rule_every_panel_has_a_title_and_a_description(
    dashboard: dict[str, Any],
) -> None:
    for panel in panels(dashboard):
        assert panel.get("title", "").strip()
        assert len(panel.get("description", "").strip()) >= 20, panel["title"]


def test_panel_units_rule_every_panel_has_a_valid_unit(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        config = panel["fieldConfig"]
        assert config["defaults"].get("unit") in VALID_UNITS, panel["title"]
        for override in config.get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in VALID_UNITS, panel["title"]
        if panel["type"] == "heatmap":
            assert panel["options"]["yAxis"]["unit"] in VALID_UNITS


def test_panel_no_targets_rule_every_panel_has_queries_with_distinct_ref_ids(
    dashboard: dict[str, Any],
) -> None:
    for panel in panels(dashboard):
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_target_rate_interval_rule_every_rate_uses_rate_interval(
    dashboard: dict[str, Any],
) -> None:
    for query in queries(_file_of(dashboard)):
        for selector in selectors(query.expr):
            if selector.function in ("rate", "irate"):
                assert selector.range == "$__rate_interval", str(query)


@pytest.mark.parametrize("label", ["job", "instance"])
def test_target_job_instance_rules_every_selector_filters_on_the_variable(
    dashboard: dict[str, Any], label: str
) -> None:
    checked = 0
    for query in queries(_file_of(dashboard)):
        for selector in selectors(query.expr):
            if selector.metric in UNFILTERED_METRICS:
                continue
            assert selector.has(label, "=~", f"${label}"), f"{selector.metric} in {query}"
            checked += 1
    assert checked > 0


def test_every_selector_of_a_route_labelled_metric_filters_on_the_route_variable(
    dashboard: dict[str, Any],
) -> None:
    for query in queries(_file_of(dashboard)):
        for selector in selectors(query.expr):
            if ROUTE_METRIC.match(selector.metric):
                assert selector.has("route", "=~", "$route"), str(query)


def test_target_counter_agg_rule_counters_are_only_read_through_rate_or_increase(
    dashboard: dict[str, Any],
) -> None:
    for query in queries(_file_of(dashboard)):
        for selector in selectors(query.expr):
            if COUNTER.search(selector.metric):
                assert selector.range is not None, str(query)
                assert selector.function in ("rate", "irate", "increase"), str(query)


def test_histogram_quantiles_aggregate_buckets_by_le(dashboard: dict[str, Any]) -> None:
    for query in queries(_file_of(dashboard)):
        for match in re.finditer(r"histogram_quantile\(([\d.]+), sum by \(([^)]*)\)", query.expr):
            assert 0 < float(match.group(1)) < 1
            assert "le" in [label.strip() for label in match.group(2).split(",")], str(query)
        if "histogram_quantile" in query.expr:
            assert "sum by (" in query.expr, str(query)


def test_target_promql_rule_every_expression_is_valid_promql_for_promtool(
    tmp_path: Path,
) -> None:
    """All queries and variable selectors of all dashboards, variables substituted, as
    recording rules that ``promtool check rules`` parses."""
    exprs = [substitute(q.expr, LINT_VALUES) for name in FILES for q in queries(name)]
    for name in FILES:
        for variable in _variables(load(name)).values():
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", str(variable.get("query")))
            if match:
                exprs.append(substitute(match.group(1), LINT_VALUES))
    rules = [{"record": f"dashboard:check{i}:expr", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [find_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_panels_fit_the_24_column_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    taken: set[tuple[int, int]] = set()
    ids = []
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        assert pos["h"] > 0, panel["title"]
        assert pos["w"] > 0, panel["title"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        ids.append(panel["id"])
    assert len(ids) == len(set(ids))


def test_every_dashboard_links_to_the_others_keeping_time_and_variables() -> None:
    dashboards = {name: load(name) for name in FILES}
    for name, dashboard in dashboards.items():
        links = [link for link in dashboard["links"] if link["type"] == "dashboards"]
        assert links, name
        reached = {
            other["uid"]
            for link in links
            for other in dashboards.values()
            if set(link["tags"]) <= set(other["tags"])
        }
        assert reached == {API_UID, RESOURCES_UID, SLO_UID}, name
        assert all(link["includeVars"] and link["keepTime"] for link in links), name
        assert TAG in dashboard["tags"]


def test_every_dashboard_shows_firing_alerts_as_annotations(dashboard: dict[str, Any]) -> None:
    annotations = dashboard["annotations"]["list"]
    alerts = [a for a in annotations if "ALERTS" in a.get("expr", "")]
    assert len(alerts) == 1
    assert alerts[0]["enable"] is True
    assert alerts[0]["datasource"] == DATASOURCE_REF
    assert 'alertstate="firing"' in alerts[0]["expr"]
    assert alerts[0]["titleFormat"] == "{{alertname}}"


def test_every_stat_panel_has_ascending_threshold_steps_from_a_base_colour(
    dashboard: dict[str, Any],
) -> None:
    stats = [p for p in panels(dashboard) if p["type"] == "stat"]
    assert stats
    for panel in stats:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[0]["value"] is None, panel["title"]
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), panel["title"]
        assert panel["options"]["colorMode"] == "background"
