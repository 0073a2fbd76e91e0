"""alertmanager/alertmanager.yml and its templates, checked with amtool and a real Alertmanager.

amtool check-config passes even when a template file is missing, and ``amtool config routes
test`` ignores inhibition, so templates and inhibition are also checked by letting a real
Alertmanager deliver: e-mail to a local SMTP server, Slack to a local HTTP endpoint, and the
webhook to the project's receiver.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from exporter.alerting.alerts import Alert
from exporter.alerting.amconfig import (
    PROJECT_CONFIG,
    local_config,
    parse_duration,
    write_local_config,
)
from exporter.alerting.dispatch import AlertDispatcher
from exporter.stack.servers import find_binary, start_alertmanager
from exporter.webhook import AlertReceiver, start_receiver_server
from tests.alert_sinks import HttpSink, SmtpSink, wait_for
from tests.payloads import alert, notification

TEMPLATES = PROJECT_CONFIG.parent / "templates"
WAIT = 30.0  # bounded waits for real deliveries on a busy 2-core machine


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_binary("amtool"), *args], capture_output=True, text=True, timeout=60
    )


def test_the_project_config_passes_amtool_check_config() -> None:
    result = amtool("check-config", str(PROJECT_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    for found in ("3 receivers", "1 inhibit rules", "1 templates"):
        assert found in result.stdout


def test_the_template_glob_of_the_config_finds_the_template_files() -> None:
    config = yaml.safe_load(PROJECT_CONFIG.read_text())
    matches = [p for glob in config["templates"] for p in PROJECT_CONFIG.parent.glob(glob)]
    assert [p.name for p in matches] == ["notifications.tmpl"]


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=HighErrorRate", "severity=critical", "job=demo"], "paging"),
        (["alertname=HighErrorRate", "severity=warning", "job=demo"], "chat"),
        (["alertname=Watchdog", "severity=none"], "watchdog"),
        (["alertname=Watchdog", "severity=critical"], "watchdog"),
        (["alertname=Something", "severity=info"], "chat"),
        (["alertname=Something"], "chat"),
    ],
)
def test_amtool_routes_each_kind_of_alert_to_its_receiver(labels: list[str], receiver: str) -> None:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={PROJECT_CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_amtool_route_verification_fails_on_the_wrong_receiver() -> None:
    """The routing cases above can fail: a critical alert is not routed to chat."""
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={PROJECT_CONFIG}",
        "--verify.receivers=chat",
        "severity=critical",
    )
    assert result.returncode != 0


def _render(tmp_path: Path, template: str, kind: str = "text") -> str:
    data = notification(
        alert(),
        alert(
            status="resolved",
            fingerprint="0123456789abcdef",
            ends_at="2024-05-01T10:05:00Z",
            route="/video/{video_id}",
        ),
    )
    data["alerts"][0]["annotations"]["value"] = "23.4%"
    data["commonLabels"] = {"alertname": "HighErrorRate", "severity": "critical", "job": "demo"}
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    result = amtool(
        "template",
        "render",
        f"--template.glob={TEMPLATES}/*.tmpl",
        f"--template.type={kind}",
        f'--template.text={{{{ template "{template}" . }}}}',
        f"--template.data={data_file}",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_text_template_shows_summary_value_route_and_runbook(tmp_path: Path) -> None:
    text = _render(tmp_path, "exporter.text")
    assert text.splitlines()[:6] == [
        "FIRING HighErrorRate (critical): HighErrorRate on /video/process",
        "  value: 23.4%",
        "  route: /video/process (job demo)",
        "  23% of requests failed over 5m",
        "  runbook: https://example.com/runbooks#higherrorrate",
        "  since: 2024-05-01 10:00:00 UTC",
    ]
    assert "RESOLVED HighErrorRate (critical)" in text
    assert "  route: /video/{video_id} (job demo)" in text


def test_the_title_template_is_one_line_with_count_name_severity_job(tmp_path: Path) -> None:
    assert _render(tmp_path, "exporter.title") == "[FIRING:1] HighErrorRate (critical) demo"


def test_the_html_template_escapes_and_links_the_runbook(tmp_path: Path) -> None:
    html = _render(tmp_path, "exporter.email.html", "html")
    assert '<a href="https://example.com/runbooks#higherrorrate">' in html
    assert "<td>23.4%</td>" in html
    assert "<td>/video/{video_id}</td>" in html


# -- the configuration used by make run and the tests ----------------------------------------


def test_the_local_config_posts_to_the_given_url_and_passes_check_config(
    tmp_path: Path,
) -> None:
    path = write_local_config(tmp_path, "http://127.0.0.1:12345/alerts")
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(path.read_text())
    urls = {w["url"] for r in config["receivers"] for w in r.get("webhook_configs", [])}
    assert urls == {"http://127.0.0.1:12345/alerts"}
    assert config["templates"] == [str(TEMPLATES / "*.tmpl")]


def test_fast_timings_keep_the_warning_waiting_longer_than_the_critical() -> None:
    fast = local_config("http://x/alerts", speedup=12, group_interval="1s")
    routes = {r["receiver"]: r for r in fast["route"]["routes"]}
    critical, warning = routes["paging"], routes["chat"]
    assert parse_duration(critical["group_wait"]) < parse_duration(warning["group_wait"])
    assert parse_duration(warning["group_wait"]) <= 5
    assert {r["group_interval"] for r in routes.values()} == {"1s"}
    assert fast["inhibit_rules"] == yaml.safe_load(PROJECT_CONFIG.read_text())["inhibit_rules"]


def uncomment_examples(text: str) -> str:
    """The config with every ``# Example:`` block uncommented."""
    out: list[str] = []
    in_example = False
    for line in text.splitlines():
        if re.match(r"^\s*# Example:", line):
            in_example = True
            out.append(line)
            continue
        match = re.match(r"^(\s*)# (.*)$", line)
        if in_example and match:
            out.append(match.group(1) + match.group(2))
            continue
        in_example = False
        out.append(line)
    return "\n".join(out) + "\n"


def examples_config(tmp_path: Path) -> dict[str, Any]:
    text = uncomment_examples(PROJECT_CONFIG.read_text())
    config: dict[str, Any] = yaml.safe_load(text)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert "email_configs" in receivers["paging"]
    assert "slack_configs" in receivers["chat"]
    return config


def test_the_commented_email_and_slack_examples_are_valid_when_uncommented(
    tmp_path: Path,
) -> None:
    examples = tmp_path / "alertmanager.yml"
    examples.write_text(uncomment_examples(PROJECT_CONFIG.read_text()))
    (tmp_path / "templates").symlink_to(TEMPLATES)
    examples_config(tmp_path)
    result = amtool("check-config", str(examples))
    assert result.returncode == 0, result.stdout + result.stderr


# -- a real Alertmanager delivering ----------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def __call__(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def names(self) -> set[tuple[str, str, str]]:
        return {(a.name, a.severity, a.receiver) for a in self.alerts}


@pytest.fixture
def delivering(tmp_path: Path) -> Iterator[tuple[str, Recorder, SmtpSink, HttpSink]]:
    """A real Alertmanager with the project's config plus the uncommented e-mail and Slack
    examples, all pointed at local receivers; yields (alertmanager url, webhook callback
    recorder, SMTP sink, Slack sink)."""
    registry = CollectorRegistry()
    recorder = Recorder()
    dispatcher = AlertDispatcher(registry)
    dispatcher.add_callback(recorder)
    server = start_receiver_server(AlertReceiver(dispatcher), registry=registry)
    smtp, slack = SmtpSink(), HttpSink()
    alertmanager = None
    try:
        config = local_config(server.url + "/alerts", speedup=12, group_interval="1s")
        examples = {r["name"]: r for r in examples_config(tmp_path)["receivers"]}
        for receiver in config["receivers"]:
            if receiver["name"] == "paging":
                mail = examples["paging"]["email_configs"][0]
                for key in ("auth_username", "auth_password"):
                    mail.pop(key)
                mail.update(smarthost=smtp.address, require_tls=False)
                receiver["email_configs"] = [mail]
            if receiver["name"] == "chat":
                chat = examples["chat"]["slack_configs"][0]
                chat.pop("api_url_file")
                chat["api_url"] = slack.url
                receiver["slack_configs"] = [chat]
        path = tmp_path / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        alertmanager = start_alertmanager(path, tmp_path)
        yield alertmanager.url, recorder, smtp, slack
    finally:
        if alertmanager is not None:
            alertmanager.stop()
        server.stop()
        smtp.close()
        slack.close()


def _post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        url + "/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _am_alert(name: str, severity: str, route: str, value: str = "") -> dict[str, Any]:
    annotations = {
        "summary": f"{name} on {route}",
        "description": f"{name} {severity} on {route} of job demo",
        "runbook_url": f"https://example.com/runbooks#{name.lower()}",
    }
    if value:
        annotations["value"] = value
    labels = {"alertname": name, "severity": severity, "job": "demo", "route": route}
    return {"labels": labels, "annotations": annotations}


def test_a_real_alertmanager_routes_renders_and_inhibits(
    delivering: tuple[str, Recorder, SmtpSink, HttpSink],
) -> None:
    url, recorder, smtp, slack = delivering
    _post_alerts(
        url,
        [
            _am_alert("HighErrorRate", "critical", "/video/process", value="31.2%"),
            _am_alert("HighErrorRate", "warning", "/video/process", value="31.2%"),
            _am_alert("HighLatency", "warning", "/video/{video_id}", value="1.8s"),
            {"labels": {"alertname": "Watchdog", "severity": "none"}, "annotations": {}},
        ],
    )
    expected = {
        ("HighErrorRate", "critical", "paging"),
        ("HighLatency", "warning", "chat"),
        ("Watchdog", "none", "watchdog"),
    }
    wait_for(lambda: expected <= recorder.names(), WAIT, f"webhook deliveries {expected}")
    wait_for(lambda: bool(smtp.messages) and bool(slack.received), WAIT, "e-mail and Slack")
    wait_for(lambda: bool(_inhibited(url)), WAIT, "the warning inhibited in Alertmanager's API")
    (inhibited,) = _inhibited(url)
    critical = next(a for a in recorder.alerts if a.severity == "critical")
    assert inhibited["labels"]["severity"] == "warning"
    assert inhibited["labels"]["route"] == "/video/process"
    assert inhibited["status"]["inhibitedBy"] == [critical.fingerprint]
    # The inhibited warning's group was created together with HighLatency's, so it has had its
    # first flush by now; two more group intervals (1 s each) for a delivery to show up.
    time.sleep(2.5)
    assert recorder.names() == expected

    (mail,) = smtp.messages
    assert mail["Subject"] == "[FIRING:1] HighErrorRate (critical) demo /video/process"
    text = SmtpSink.text_of(mail, "plain")
    for shown in (
        "FIRING HighErrorRate (critical): HighErrorRate on /video/process",
        "value: 31.2%",
        "route: /video/process (job demo)",
        "runbook: https://example.com/runbooks#higherrorrate",
    ):
        assert shown in text
    html = SmtpSink.text_of(mail, "html")
    assert '<a href="https://example.com/runbooks#higherrorrate">' in html

    (post,) = slack.received
    (attachment,) = post["attachments"]
    assert attachment["title"] == "[FIRING:1] HighLatency (warning) demo /video/{video_id}"
    assert attachment["title_link"] == "https://example.com/runbooks#highlatency"
    assert "value: 1.8s" in attachment["text"]
    assert "route: /video/{video_id} (job demo)" in attachment["text"]
    assert "runbook: https://example.com/runbooks#highlatency" in attachment["text"]
    assert post["channel"] == "#api-alerts"


def _inhibited(url: str) -> list[dict[str, Any]]:
    """Alerts Alertmanager reports as inhibited, with what inhibits them."""
    with urllib.request.urlopen(url + "/api/v2/alerts?inhibited=true", timeout=10) as response:
        alerts = json.loads(response.read())
    return [a for a in alerts if a["status"]["inhibitedBy"]]
