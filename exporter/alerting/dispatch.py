"""Running alert callbacks off the request path: deduplication, a bounded queue, one worker.

The webhook receiver hands each valid notification to :meth:`AlertDispatcher.submit`, which
returns at once; a single worker thread then calls every registered callback for each alert,
in the order the alerts arrived (so a ``resolved`` never overtakes its ``firing``).

- **Duplicates.** Alertmanager sends an alert again on every repeat interval and whenever its
  group changes. An alert is passed to the callbacks only when its (start time, status) differs
  from what was last passed for its fingerprint, so each firing and each resolution arrives once;
  a new firing of the same labels (a new start time) is new. The memory of fingerprints is
  bounded (least recently seen forgotten first); a forgotten alert can be delivered again.
- **Full queue.** When the alerts of a notification do not fit, :meth:`submit` raises
  :class:`QueueFull` and remembers none of them: the receiver answers 503 and Alertmanager
  retries the whole notification later. Nothing is dropped silently. An empty queue always
  accepts a notification, however many alerts it holds.
- **Failing callbacks.** An exception is logged with its traceback and counted
  (``alert_webhook_callback_errors_total``); the other callbacks still run for that alert.
- **Callbacks** are plain functions or ``async def`` functions taking one :class:`Alert`. Async
  ones run on the worker's own event loop, not the server's; a slow callback delays the alerts
  behind it, never the HTTP answer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from prometheus_client import CollectorRegistry

from exporter.alerting.alerts import Alert, Notification
from exporter.alerting.metrics import WebhookMetrics, severity_label, webhook_metrics_for
from exporter.errors import ExporterError

logger = logging.getLogger(__name__)

AlertCallback: TypeAlias = Callable[[Alert], Awaitable[None] | None]

DEFAULT_QUEUE_SIZE = 1000
DEFAULT_MEMORY = 10_000


class QueueFull(ExporterError):
    """The callbacks are too far behind to accept more alerts now."""


@dataclass(frozen=True)
class Submitted:
    """What :meth:`AlertDispatcher.submit` did with a notification's alerts."""

    queued: int
    duplicates: int


def callback_name(callback: Callable[..., Any]) -> str:
    """``module.qualname`` of a callback: its label value in the metrics (bounded by code)."""
    module = getattr(callback, "__module__", None) or "?"
    name = getattr(callback, "__qualname__", None) or type(callback).__qualname__
    return f"{module}.{name}"


class AlertDispatcher:
    """Registered callbacks, the queue in front of them and the thread that runs them."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        memory: int = DEFAULT_MEMORY,
    ) -> None:
        if queue_size < 1:
            raise ExporterError("the alert queue size must be at least 1")
        if memory < 1:
            raise ExporterError("the duplicate memory must hold at least 1 alert")
        self.queue_size = queue_size
        self.memory = memory
        self.metrics: WebhookMetrics = webhook_metrics_for(registry)
        self._callbacks: list[AlertCallback] = []
        self._queue: deque[Alert] = deque()
        self._seen: OrderedDict[str, tuple[datetime, str]] = OrderedDict()
        self._running = 0  # alerts taken by the worker and not finished
        self._closing = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.metrics.watch_queue(self.queue_length)

    # -- callbacks ---------------------------------------------------------------------------
    def add_callback(self, callback: AlertCallback) -> AlertCallback:
        """Call ``callback(alert)`` for every new alert; returns it (usable as a decorator)."""
        if not callable(callback):
            raise TypeError(f"an alert callback must be callable, got {callback!r}")
        with self._cond:
            self._callbacks.append(callback)
        return callback

    def remove_callback(self, callback: AlertCallback) -> None:
        with self._cond:
            self._callbacks.remove(callback)

    @property
    def callbacks(self) -> Sequence[AlertCallback]:
        with self._cond:
            return tuple(self._callbacks)

    # -- intake (called on the request path: never blocks on callbacks) -----------------------
    def submit(self, notification: Notification) -> Submitted:
        """Queue the new alerts of ``notification``; :class:`QueueFull` when they do not fit."""
        with self._cond:
            if self._closing:
                raise QueueFull("the receiver is shutting down")
            fresh: list[Alert] = []
            pending: dict[str, tuple[datetime, str]] = {}
            for alert in notification.alerts:
                state: tuple[datetime, str] = (alert.starts_at, alert.status)
                key = alert.fingerprint
                if pending.get(key, self._seen.get(key)) == state:
                    continue
                pending[key] = state
                fresh.append(alert)
            if self._queue and len(self._queue) + len(fresh) > self.queue_size:
                raise QueueFull(
                    f"{len(self._queue)} alerts are waiting for the callbacks "
                    f"(queue size {self.queue_size}); retry later"
                )
            for key, seen in pending.items():
                self._seen[key] = seen
                self._seen.move_to_end(key)
            while len(self._seen) > self.memory:
                self._seen.popitem(last=False)
            self._queue.extend(fresh)
            self._ensure_worker()
            self._cond.notify_all()
        self.metrics.notification_received()
        for alert in notification.alerts:
            self.metrics.alerts.inc((alert.status, severity_label(alert.severity)))
        duplicates = len(notification.alerts) - len(fresh)
        if duplicates:
            self.metrics.duplicates.inc((), duplicates)
        return Submitted(queued=len(fresh), duplicates=duplicates)

    def queue_length(self) -> int:
        with self._cond:
            return len(self._queue)

    # -- lifecycle -----------------------------------------------------------------------------
    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued alert went through the callbacks; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Run what is queued (up to ``timeout``) and stop the worker; False if it overran.

        Alerts submitted meanwhile are refused (:class:`QueueFull`). A later :meth:`submit`
        starts a new worker, so an app that is shut down and started again keeps working.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        try:
            if thread is not None:
                thread.join(timeout)
                if thread.is_alive():
                    return False
            return True
        finally:
            with self._cond:
                self._closing = False

    def _ensure_worker(self) -> None:
        # called with the lock held; (re)started lazily so that importing or constructing a
        # dispatcher never starts a thread, and a worker killed by BaseException is replaced
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="alert-callbacks", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    alert = self._queue.popleft()
                    callbacks = tuple(self._callbacks)
                    self._running += 1
                try:
                    for callback in callbacks:
                        self._call(loop, callback, alert)
                finally:
                    with self._cond:
                        self._running -= 1
                        self._cond.notify_all()
        finally:
            loop.close()

    def _call(self, loop: asyncio.AbstractEventLoop, callback: AlertCallback, alert: Alert) -> None:
        name = callback_name(callback)
        start = time.perf_counter()
        try:
            result = callback(alert)
            if inspect.isawaitable(result):
                loop.run_until_complete(_awaited(result))
        except Exception as exc:
            self.metrics.callback_errors.inc((name,))
            logger.error(
                "alert callback %s failed on %s (%s): %s: %s",
                name,
                alert.name,
                alert.status,
                type(exc).__name__,
                exc,
                exc_info=True,
            )
        finally:
            self.metrics.callback_duration.observe((name,), time.perf_counter() - start)


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable
