"""Alertmanager webhook bodies for the tests, shaped like what Alertmanager 0.25 sends.

The shape was taken from a real delivery (see test_alerting_e2e for the real thing): Go's
nanosecond timestamps, the zero time as endsAt while firing, a 16-hex-digit fingerprint.
"""

from __future__ import annotations

import copy
import json
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"


def alert(
    name: str = "HighErrorRate",
    status: str = "firing",
    severity: str = "critical",
    fingerprint: str = "05fc116eba16bb74",
    starts_at: str = "2024-05-01T10:00:00.123456789Z",
    ends_at: str = ZERO_TIME,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, "job": "demo", "route": "/video/process", **labels}
    if severity:
        all_labels["severity"] = severity
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {
            "summary": f"{name} on /video/process",
            "description": "23% of requests failed over 5m",
            "runbook_url": "https://example.com/runbooks#higherrorrate",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any], receiver: str = "paging") -> dict[str, Any]:
    alerts = alerts or (alert(),)
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": [copy.deepcopy(a) for a in alerts],
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
    }


def body(*alerts: dict[str, Any], receiver: str = "paging") -> bytes:
    return json.dumps(notification(*alerts, receiver=receiver)).encode()
