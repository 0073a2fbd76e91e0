"""The Prometheus configurations: compose's prometheus.yml and make run's rendered template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.errors import ExporterError
from exporter.stack.promconfig import PROMETHEUS_DIR, local_config, render


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def targets(job: dict[str, Any]) -> list[str]:
    return [t for group in job["static_configs"] for t in group["targets"]]


def test_compose_config_scrapes_the_agreed_services_and_alerts_to_alertmanager() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    found = jobs(config)
    assert {name: targets(job) for name, job in found.items()} == {
        "demo": ["app:8000"],
        "prometheus": ["prometheus:9090"],
        "alertmanager": ["alertmanager:9093"],
        "webhook": ["webhook:9095"],
        "blackbox": ["http://app:8000/health"],
    }
    assert config["rule_files"] == ["rules/*.yml"]
    assert targets(config["alerting"]["alertmanagers"][0]) == ["alertmanager:9093"]
    blackbox = found["blackbox"]
    assert blackbox["metrics_path"] == "/probe"
    assert blackbox["params"] == {"module": ["http_2xx"]}
    assert blackbox["relabel_configs"][-1] == {
        "target_label": "__address__",
        "replacement": "blackbox:9115",
    }


def test_make_run_config_leaves_out_what_is_not_running() -> None:
    config = yaml.safe_load(local_config(app_port=8001, prometheus_port=9091, rules_dir=Path("/r")))
    assert "alerting" not in config
    assert {name: targets(job) for name, job in jobs(config).items()} == {
        "demo": ["127.0.0.1:8001"],
        "prometheus": ["127.0.0.1:9091"],
    }
    assert config["rule_files"] == ["/r/*.yml"]
    assert config["global"]["evaluation_interval"] == config["global"]["scrape_interval"] == "2s"


def test_make_run_config_alerts_to_alertmanager_and_scrapes_webhook_and_probe() -> None:
    text = local_config(
        app_port=8001,
        prometheus_port=9091,
        rules_dir=Path("/r"),
        scrape_interval="1s",
        alertmanager_port=9094,
        webhook_port=9096,
        blackbox_port=9116,
    )
    config = yaml.safe_load(text)
    assert targets(config["alerting"]["alertmanagers"][0]) == ["127.0.0.1:9094"]
    found = jobs(config)
    assert targets(found["alertmanager"]) == ["127.0.0.1:9094"]
    assert targets(found["webhook"]) == ["127.0.0.1:9096"]
    assert targets(found["blackbox"]) == ["http://127.0.0.1:8001/health"]
    assert found["blackbox"]["relabel_configs"][-1]["replacement"] == "127.0.0.1:9116"
    assert "${" not in text
    assert "# --- " not in text


def test_template_blocks_must_be_closed_and_flat() -> None:
    with pytest.raises(ValueError, match="never closed"):
        render("a: 1\n# --- if x\nb: 2\n", {"x": 1})
    with pytest.raises(ValueError, match="nested"):
        render("# --- if x\n# --- if y\n# --- end\n", {})
    assert render("a: ${a}\n# --- if x\nb: 2\n# --- end\n", {"a": 1, "x": None}).endswith("a: 1\n")


def test_missing_template_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ExporterError, match="cannot read"):
        local_config(
            app_port=1, prometheus_port=2, rules_dir=tmp_path, template=tmp_path / "no.tmpl"
        )
