"""Alertmanager's webhook payload (version 4), validated into typed alerts.

:func:`parse_notification` takes the decoded JSON of one notification and returns a
:class:`Notification` whose :class:`Alert` objects are what alert callbacks receive, or raises
:class:`PayloadError` with one line naming the first thing that is wrong (``alerts[0].labels:
missing``). The format is Alertmanager's webhook_config payload::

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing",
     "receiver": "paging", "groupLabels": {...}, "commonLabels": {...},
     "commonAnnotations": {...}, "externalURL": "...",
     "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
                 "startsAt": "<RFC 3339>", "endsAt": "<RFC 3339>",
                 "generatorURL": "...", "fingerprint": "..."}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, cast

from exporter.errors import ExporterError

SUPPORTED_VERSION = "4"
AlertStatus = Literal["firing", "resolved"]
_STATUSES = ("firing", "resolved")
#: Alertmanager writes Go's zero time for "no end known".
_ZERO_TIME_YEAR = 1
#: A key that is not there, told apart from one that is there with the value null.
_MISSING: Any = object()


class PayloadError(ExporterError):
    """The body is not a valid Alertmanager webhook notification."""


class UnsupportedVersion(PayloadError):
    """The notification declares a payload version this receiver does not read."""


@dataclass(frozen=True)
class Alert:
    """One alert of a notification, as given to alert callbacks (read-only: every callback
    gets the same object)."""

    #: The ``alertname`` label.
    name: str
    status: AlertStatus
    #: The ``severity`` label (``critical``, ``warning``...), ``""`` when the alert has none.
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    #: When the alert resolved; None while firing (Alertmanager sends no end time then).
    ends_at: datetime | None
    #: Alertmanager's identity of the label set; the same alert keeps it across notifications.
    fingerprint: str
    #: The Alertmanager receiver that sent it (the route: ``paging``, ``chat``, ``watchdog``).
    receiver: str
    generator_url: str = ""

    def __hash__(self) -> int:
        # the label and annotation mappings are not hashable; equal alerts share these
        return hash((self.fingerprint, self.status, self.starts_at))

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")

    @property
    def description(self) -> str:
        return self.annotations.get("description", "")

    @property
    def runbook_url(self) -> str:
        return self.annotations.get("runbook_url", "")

    def __str__(self) -> str:
        where = " ".join(
            f"{k}={self.labels[k]}" for k in ("job", "route", "instance") if k in self.labels
        )
        text = f"{self.status} {self.severity or '-'} {self.name}"
        if where:
            text += f" {where}"
        if self.summary:
            text += f": {self.summary}"
        return text


@dataclass(frozen=True)
class Notification:
    """One webhook delivery: a group of alerts sent by one Alertmanager receiver."""

    version: str
    status: AlertStatus
    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Alert, ...]


def parse_notification(data: Any) -> Notification:
    """Validate decoded JSON as a version-4 notification; :class:`PayloadError` if it is not."""
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object, got {_json_type(data)}")
    version = data.get("version", _MISSING)
    if version is _MISSING:
        raise PayloadError("version: missing")
    if version is None:
        raise PayloadError("version: expected a string, got null")
    if version != SUPPORTED_VERSION:
        raise UnsupportedVersion(
            f"version {version!r} is not supported (this receiver reads version "
            f"{SUPPORTED_VERSION!r})"
        )
    receiver = _string(data, "receiver", "receiver")
    alerts_raw = data.get("alerts", _MISSING)
    if alerts_raw is _MISSING:
        raise PayloadError("alerts: missing")
    if not isinstance(alerts_raw, list):
        raise PayloadError(f"alerts: expected a list, got {_json_type(alerts_raw)}")
    alerts = tuple(_alert(item, f"alerts[{i}]", receiver) for i, item in enumerate(alerts_raw))
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts: expected a non-negative integer")
    return Notification(
        version=version,
        status=_status(data, "status"),
        receiver=receiver,
        group_key=_string(data, "groupKey", "groupKey", required=False),
        group_labels=_string_map(data, "groupLabels", "groupLabels", required=False),
        common_labels=_string_map(data, "commonLabels", "commonLabels", required=False),
        common_annotations=_string_map(
            data, "commonAnnotations", "commonAnnotations", required=False
        ),
        external_url=_string(data, "externalURL", "externalURL", required=False),
        truncated_alerts=truncated,
        alerts=alerts,
    )


def _alert(item: Any, where: str, receiver: str) -> Alert:
    if not isinstance(item, dict):
        raise PayloadError(f"{where}: expected an object, got {_json_type(item)}")
    labels = _string_map(item, "labels", f"{where}.labels")
    if "alertname" not in labels:
        raise PayloadError(f"{where}.labels.alertname: missing")
    name = labels["alertname"]
    if not name:
        raise PayloadError(f"{where}.labels.alertname: must not be empty")
    fingerprint = _string(item, "fingerprint", f"{where}.fingerprint")
    if not fingerprint or len(fingerprint) > 128:
        raise PayloadError(f"{where}.fingerprint: expected 1 to 128 characters")
    ends_at = _time(item, "endsAt", f"{where}.endsAt", required=False)
    return Alert(
        name=name,
        status=_status(item, where + ".status", key="status"),
        severity=labels.get("severity", ""),
        labels=MappingProxyType(labels),
        annotations=MappingProxyType(
            _string_map(item, "annotations", f"{where}.annotations", required=False)
        ),
        starts_at=cast(datetime, _time(item, "startsAt", f"{where}.startsAt")),
        ends_at=ends_at,
        fingerprint=fingerprint,
        receiver=receiver,
        generator_url=_string(item, "generatorURL", f"{where}.generatorURL", required=False),
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _status(data: dict[str, Any], where: str, key: str = "status") -> AlertStatus:
    value = data.get(key, _MISSING)
    if value is _MISSING:
        raise PayloadError(f"{where}: missing")
    if value not in _STATUSES:
        shown = repr(value) if isinstance(value, str) else _json_type(value)
        raise PayloadError(f"{where}: expected 'firing' or 'resolved', got {shown}")
    return cast(AlertStatus, value)


def _absent(data: dict[str, Any], key: str, where: str, required: bool) -> bool:
    """Whether ``key`` is to be read as not given: an optional one absent or null (Go writes
    a nil map as null). A required one absent is an error; null is left to the type check."""
    if key not in data:
        if required:
            raise PayloadError(f"{where}: missing")
        return True
    return data[key] is None and not required


def _string(data: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    if _absent(data, key, where, required):
        return ""
    value = data[key]
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected a string, got {_json_type(value)}")
    return value


def _string_map(
    data: dict[str, Any], key: str, where: str, required: bool = True
) -> dict[str, str]:
    if _absent(data, key, where, required):
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {_json_type(value)}")
    for k, v in value.items():
        if not isinstance(v, str):
            raise PayloadError(f"{where}.{k}: expected a string, got {_json_type(v)}")
    return dict(value)


def _time(data: dict[str, Any], key: str, where: str, required: bool = True) -> datetime | None:
    if _absent(data, key, where, required):
        return None
    raw = data[key]
    if not isinstance(raw, str):
        raise PayloadError(f"{where}: expected an RFC 3339 time, got {_json_type(raw)}")
    try:
        # Go writes nanoseconds; Python 3.11 reads the first six digits and ignores the rest
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{where}: not an RFC 3339 time: {raw[:40]!r}") from None
    if value.tzinfo is None:
        raise PayloadError(f"{where}: time without a time zone: {raw[:40]!r}")
    if value.year == _ZERO_TIME_YEAR:
        return None if not required else value
    return value
