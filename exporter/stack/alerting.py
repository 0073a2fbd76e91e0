"""The alerting half of ``make run``: Alertmanager, the webhook receiver, and what it received.

:func:`start_alerting` starts the webhook receiver in this process (so its callback can feed
the live summary) and a real Alertmanager with the project's ``alertmanager/alertmanager.yml``,
pointed at the receiver and with fast timings (:mod:`exporter.alerting.amconfig`).
:class:`AlertLog` is the callback: it keeps the last alerts and which ones are firing, and
renders the summary's alert lines. Prometheus is told where Alertmanager is by the
``alerting:`` block of its configuration template (:mod:`exporter.stack.promconfig`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.alerting.alerts import Alert
from exporter.alerting.amconfig import PROJECT_CONFIG, write_local_config
from exporter.alerting.dispatch import AlertDispatcher
from exporter.stack.servers import ManagedProcess, start_alertmanager
from exporter.webhook import DEFAULT_PATH, AlertReceiver, BackgroundServer, start_receiver_server


class AlertLog:
    """An alert callback that remembers recent alerts and the ones firing now."""

    def __init__(self, keep: int = 50) -> None:
        self._recent: deque[tuple[float, Alert]] = deque(maxlen=keep)
        self._firing: dict[str, Alert] = {}
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self._recent.append((time.time(), alert))
            if alert.firing:
                self._firing[alert.fingerprint] = alert
            else:
                self._firing.pop(alert.fingerprint, None)

    def recent(self) -> list[tuple[float, Alert]]:
        with self._lock:
            return list(self._recent)

    def firing(self) -> list[Alert]:
        with self._lock:
            return list(self._firing.values())

    def summary_lines(self, last: int = 5) -> list[str]:
        """The live summary's alert section: what is firing, then the latest deliveries."""
        firing = self.firing()
        recent = self.recent()[-last:]
        lines = [f"{'alerts':>13}: {len(firing)} firing (as received by the webhook callback)"]
        for alert in sorted(firing, key=lambda a: (a.severity != "critical", a.name)):
            lines.append(f"{'':>15}{alert}")
        if recent:
            lines.append(f"{'last received':>13}:")
            for at, alert in recent:
                lines.append(f"{'':>15}{time.strftime('%H:%M:%S', time.localtime(at))} {alert}")
        return lines


@dataclass
class Alerting:
    """What :func:`start_alerting` started; :meth:`stop` ends both servers."""

    alertmanager: ManagedProcess
    receiver: BackgroundServer
    log: AlertLog

    @property
    def webhook_url(self) -> str:
        return self.receiver.url + DEFAULT_PATH

    def stop(self) -> None:
        self.alertmanager.stop()
        self.receiver.stop()


def start_alerting(
    workdir: Path,
    alertmanager_port: int | None = None,
    source: Path = PROJECT_CONFIG,
    registry: CollectorRegistry | None = None,
) -> Alerting:
    """Start the receiver (in-process, any free port) and Alertmanager on ``alertmanager_port``."""
    # the receiver's /metrics shows a registry of its own, not this process's global one
    registry = registry if registry is not None else CollectorRegistry()
    log = AlertLog()
    dispatcher = AlertDispatcher(registry)
    dispatcher.add_callback(log)
    receiver = AlertReceiver(dispatcher)
    server = start_receiver_server(receiver, registry=registry)
    try:
        config = write_local_config(workdir, server.url + DEFAULT_PATH, source)
        alertmanager = start_alertmanager(config, workdir, alertmanager_port)
    except BaseException:
        server.stop()
        raise
    return Alerting(alertmanager, server, log)
