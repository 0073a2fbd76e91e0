from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from exporter.alerting.alerts import PayloadError, UnsupportedVersion, parse_notification
from tests.payloads import alert, notification


def test_a_notification_becomes_typed_alerts() -> None:
    parsed = parse_notification(notification(alert(), receiver="paging"))
    assert parsed.version == "4"
    assert parsed.receiver == "paging"
    (first,) = parsed.alerts
    assert first.name == "HighErrorRate"
    assert first.status == "firing"
    assert first.firing
    assert first.severity == "critical"
    assert first.labels["route"] == "/video/process"
    assert first.summary == "HighErrorRate on /video/process"
    assert first.runbook_url == "https://example.com/runbooks#higherrorrate"
    assert first.fingerprint == "05fc116eba16bb74"
    assert first.receiver == "paging"


def test_go_nanosecond_times_are_read_and_the_zero_end_time_means_none() -> None:
    (first,) = parse_notification(notification(alert())).alerts
    assert first.starts_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None


def test_a_resolved_alert_keeps_its_end_time() -> None:
    resolved = alert(status="resolved", ends_at="2024-05-01T10:05:00Z")
    (first,) = parse_notification(notification(resolved)).alerts
    assert not first.firing
    assert first.ends_at == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


def test_an_alert_without_severity_has_an_empty_severity() -> None:
    (first,) = parse_notification(notification(alert(severity=""))).alerts
    assert first.severity == ""


def test_an_alert_reads_as_one_line_with_status_severity_name_and_where() -> None:
    (first,) = parse_notification(notification(alert())).alerts
    assert str(first) == (
        "firing critical HighErrorRate job=demo route=/video/process: "
        "HighErrorRate on /video/process"
    )


def _broken(change: Any) -> dict[str, Any]:
    data = notification(alert())
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a JSON object, got a list"),
        ("text", "expected a JSON object, got a string"),
        (_broken(lambda d: d.pop("alerts")), "alerts: missing"),
        (_broken(lambda d: d.update(alerts={})), "alerts: expected a list, got an object"),
        (_broken(lambda d: d.pop("receiver")), "receiver: missing"),
        (_broken(lambda d: d.update(status="pending")), "status: expected 'firing' or"),
        (_broken(lambda d: d.update(alerts=[1])), "alerts[0]: expected an object, got a number"),
        (_broken(lambda d: d["alerts"][0].pop("labels")), "alerts[0].labels: missing"),
        (
            _broken(lambda d: d["alerts"][0]["labels"].pop("alertname")),
            "alerts[0].labels.alertname: missing",
        ),
        (
            _broken(lambda d: d["alerts"][0]["labels"].update(severity=3)),
            "alerts[0].labels.severity: expected a string, got a number",
        ),
        (_broken(lambda d: d["alerts"][0].pop("status")), "alerts[0].status: missing"),
        (
            _broken(lambda d: d["alerts"][0].update(startsAt="yesterday")),
            "alerts[0].startsAt: not an RFC 3339 time",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(startsAt="2024-05-01T10:00:00")),
            "alerts[0].startsAt: time without a time zone",
        ),
        (_broken(lambda d: d["alerts"][0].pop("fingerprint")), "alerts[0].fingerprint: missing"),
        (
            _broken(lambda d: d["alerts"][0].update(fingerprint="")),
            "alerts[0].fingerprint: expected 1 to 128 characters",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(annotations=["x"])),
            "alerts[0].annotations: expected an object, got a list",
        ),
        (
            _broken(lambda d: d.update(truncatedAlerts=-1)),
            "truncatedAlerts: expected a non-negative integer",
        ),
        (_broken(lambda d: d.pop("version")), "version: missing"),
    ],
)
def test_a_malformed_notification_is_refused_naming_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_broken(lambda d: d.update(version=None)), "version: expected a string, got null"),
        (_broken(lambda d: d.update(receiver=None)), "receiver: expected a string, got null"),
        (_broken(lambda d: d.update(alerts=None)), "alerts: expected a list, got null"),
        (
            _broken(lambda d: d.update(status=None)),
            "status: expected 'firing' or 'resolved', got null",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(status=None)),
            "alerts[0].status: expected 'firing' or 'resolved', got null",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(status=1)),
            "alerts[0].status: expected 'firing' or 'resolved', got a number",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(labels=None)),
            "alerts[0].labels: expected an object, got null",
        ),
        (
            _broken(lambda d: d["alerts"][0]["labels"].update(alertname="")),
            "alerts[0].labels.alertname: must not be empty",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(fingerprint=None)),
            "alerts[0].fingerprint: expected a string, got null",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(startsAt=None)),
            "alerts[0].startsAt: expected an RFC 3339 time, got null",
        ),
    ],
)
def test_a_field_that_is_there_with_the_wrong_type_is_not_called_missing(
    data: Any, message: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(data)
    assert str(caught.value) == message


def test_optional_fields_given_as_null_read_as_absent() -> None:
    data = notification(alert())
    data.update(groupKey=None, commonLabels=None, externalURL=None)
    data["alerts"][0].update(annotations=None, endsAt=None, generatorURL=None)
    parsed = parse_notification(data)
    assert (parsed.group_key, parsed.common_labels, parsed.external_url) == ("", {}, "")
    (first,) = parsed.alerts
    assert (first.annotations, first.ends_at, first.generator_url) == ({}, None, "")


@pytest.mark.parametrize("version", ["3", 4, "5"])
def test_another_payload_version_is_refused_as_unsupported(version: Any) -> None:
    data = notification(alert())
    data["version"] = version
    with pytest.raises(UnsupportedVersion, match="is not supported"):
        parse_notification(data)


def test_an_empty_alert_list_is_a_valid_notification_with_no_alerts() -> None:
    data = notification(alert())
    data["alerts"] = []
    assert parse_notification(data).alerts == ()


def test_an_alert_is_read_only_and_hashable() -> None:
    (first,) = parse_notification(notification(alert())).alerts
    with pytest.raises(TypeError):
        first.labels["severity"] = "info"  # type: ignore[index]
    (again,) = parse_notification(notification(alert())).alerts
    assert first == again
    assert {first, again} == {first}
