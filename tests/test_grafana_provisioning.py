"""Grafana's provisioning files: the datasources and the dashboard provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROVISIONING = ROOT / "grafana" / "provisioning"


def _datasources() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    assert data["apiVersion"] == 1
    return {d["type"]: d for d in data["datasources"]}


def test_prometheus_datasource_has_a_fixed_uid_and_is_the_default() -> None:
    prometheus = _datasources()["prometheus"]
    assert prometheus["uid"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["access"] == "proxy"
    assert prometheus["isDefault"] is True


def test_prometheus_datasource_time_interval_equals_the_scrape_interval() -> None:
    """$__rate_interval is built from timeInterval: it must be what Prometheus scrapes at."""
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    scrape_interval = config["global"]["scrape_interval"]
    assert _datasources()["prometheus"]["jsonData"]["timeInterval"] == scrape_interval


def test_alertmanager_datasource_points_at_the_compose_alertmanager() -> None:
    sources = _datasources()
    alertmanager = sources["alertmanager"]
    assert alertmanager["url"] == "http://alertmanager:9093"
    assert alertmanager["jsonData"]["implementation"] == "prometheus"
    assert sources["prometheus"]["jsonData"]["alertmanagerUid"] == alertmanager["uid"]


def test_dashboard_provider_loads_the_dashboards_directory_read_only() -> None:
    data = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())
    assert data["apiVersion"] == 1
    (provider,) = data["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    assert provider["disableDeletion"] is True
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
