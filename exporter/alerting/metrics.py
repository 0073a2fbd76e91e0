"""The webhook receiver's own metrics, defined once per registry.

They answer "is Alertmanager reaching us, and are the callbacks coping": notifications accepted
and rejected (by a bounded reason), alerts by status and severity, duplicates dropped, callback
errors and durations, the queue length, and when Alertmanager was last heard from (with the
Watchdog routed here, a fresh timestamp proves the whole alerting chain works).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from exporter.config import DEFAULT_BUCKETS
from exporter.metrics import CounterCells, HistogramCells

#: Severities kept as label values; anything else is counted as "other" (labels stay bounded).
KNOWN_SEVERITIES = frozenset({"critical", "warning", "info", "none"})

#: Why a request was turned away (values of the ``reason`` label).
REJECT_REASONS = (
    "method_not_allowed",
    "unauthorized",
    "too_large",
    "not_json",
    "invalid",
    "unsupported_version",
    "queue_full",
)


def severity_label(severity: str) -> str:
    if not severity:
        return "none"
    return severity if severity in KNOWN_SEVERITIES else "other"


class WebhookMetrics:
    """Counters and gauges of one receiver; a collector registered on one registry."""

    def __init__(self) -> None:
        self.notifications = CounterCells(
            "alert_webhook_notifications_received_total",
            "Valid Alertmanager notifications accepted by the webhook receiver.",
            (),
        )
        self.rejected = CounterCells(
            "alert_webhook_notifications_rejected_total",
            "Requests to the webhook receiver turned away, by reason.",
            ("reason",),
        )
        self.alerts = CounterCells(
            "alert_webhook_alerts_received_total",
            "Alerts in accepted notifications, by status and severity (duplicates included).",
            ("status", "severity"),
        )
        self.duplicates = CounterCells(
            "alert_webhook_alerts_deduplicated_total",
            "Alerts not passed to callbacks again: same fingerprint, start and status as before.",
            (),
        )
        self.callback_errors = CounterCells(
            "alert_webhook_callback_errors_total",
            "Alert callbacks that raised an exception.",
            ("callback",),
        )
        self.callback_duration = HistogramCells(
            "alert_webhook_callback_duration_seconds",
            "Time an alert callback took for one alert.",
            ("callback",),
            DEFAULT_BUCKETS,
        )
        self._last_notification = 0.0
        self._queues: list[Callable[[], int]] = []
        self._lock = threading.Lock()
        for reason in REJECT_REASONS:  # every reason visible at 0 from the start
            self.rejected.inc((reason,), 0.0)
        self.notifications.inc((), 0.0)
        self.duplicates.inc((), 0.0)

    def notification_received(self) -> None:
        self.notifications.inc(())
        with self._lock:
            self._last_notification = time.time()

    def watch_queue(self, length: Callable[[], int]) -> None:
        """Add ``length()`` (a dispatcher's queue length) to the queued-alerts gauge."""
        with self._lock:
            self._queues.append(length)

    def collect(self) -> Iterator[Metric]:
        yield self.notifications.collect()
        yield self.rejected.collect()
        yield self.alerts.collect()
        yield self.duplicates.collect()
        yield self.callback_errors.collect()
        yield self.callback_duration.collect()
        queued = GaugeMetricFamily(
            "alert_webhook_queued_alerts", "Alerts waiting for the callbacks to run."
        )
        with self._lock:
            queues = list(self._queues)
        queued.add_metric((), float(sum(length() for length in queues)))
        yield queued
        last = GaugeMetricFamily(
            "alert_webhook_last_notification_timestamp_seconds",
            "Unix time of the last valid notification from Alertmanager (0: none yet).",
        )
        with self._lock:
            last.add_metric((), self._last_notification)
        yield last

    def describe(self) -> Iterable[Metric]:
        # lets the registry catch a name clash at registration without collecting
        names = [
            "alert_webhook_notifications_received",
            "alert_webhook_notifications_rejected",
            "alert_webhook_alerts_received",
            "alert_webhook_alerts_deduplicated",
            "alert_webhook_callback_errors",
            "alert_webhook_callback_duration_seconds",
            "alert_webhook_queued_alerts",
            "alert_webhook_last_notification_timestamp_seconds",
        ]
        return [Metric(name, "", "untyped") for name in names]


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, WebhookMetrics] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def webhook_metrics_for(registry: CollectorRegistry | None = None) -> WebhookMetrics:
    """The receiver metrics of ``registry`` (default: the global one), created on first use."""
    registry = REGISTRY if registry is None else registry
    with _lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = WebhookMetrics()
            registry.register(metrics)
            _by_registry[registry] = metrics
        return metrics
