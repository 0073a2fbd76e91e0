"""The user-facing entry points: ``instrument(app)`` and the seed-style ``PerformanceMonitor``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry
from starlette.routing import Route
from starlette.types import ASGIApp

from exporter.config import Settings
from exporter.exposition import MetricsApp, MetricsServer, start_metrics_server
from exporter.metrics import ExporterMetrics, metrics_for
from exporter.middleware import PrometheusMiddleware
from exporter.operations import Operations, OperationTimer

if TYPE_CHECKING:
    from exporter.alerting.dispatch import AlertCallback, AlertDispatcher
    from exporter.webhook import AlertReceiver

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class PerformanceMonitor:
    """One object holding the settings, the metrics and the helpers for one registry.

    >>> monitor = PerformanceMonitor()
    >>> monitor.instrument(app)                      # middleware + /metrics
    >>> @monitor.monitor_performance("transcode")    # time a function
    ... async def transcode(video): ...
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        self.registry = registry
        self.settings = settings.with_(**options) if settings else Settings.from_env(**options)
        self.metrics: ExporterMetrics = metrics_for(registry, self.settings.buckets)
        self.operations = Operations(self.metrics, self.settings.max_operations)
        self._metrics_app: MetricsApp | None = None
        self.metrics_server: MetricsServer | None = None
        self._alerts: AlertDispatcher | None = None

    # -- HTTP ------------------------------------------------------------------------------
    def create_middleware(self) -> Callable[[ASGIApp], PrometheusMiddleware]:
        """A middleware factory: ``app.add_middleware(monitor.create_middleware())``."""
        return _MiddlewareFactory(self.registry, self.settings)

    def metrics_app(self) -> MetricsApp:
        """The ``/metrics`` ASGI app for this monitor's registry (created once)."""
        if self._metrics_app is None:
            self._metrics_app = MetricsApp(self.registry, self.settings)
        return self._metrics_app

    def instrument(self, app: Any) -> PerformanceMonitor:
        """Add the middleware and serve ``/metrics`` (in the app, or on ``metrics_port``)."""
        app.add_middleware(self.create_middleware())
        if self.settings.metrics_port is not None:
            self.start_metrics_server()
        else:
            route = Route(
                self.settings.metrics_path,
                self.metrics_app(),
                methods=["GET", "HEAD"],
                include_in_schema=False,
            )
            # first, so that a catch-all route of the app cannot shadow it
            app.router.routes.insert(0, route)
        return self

    def start_metrics_server(self) -> MetricsServer | None:
        """Serve ``/metrics`` on ``settings.metrics_port``; with several workers one wins."""
        if self.metrics_server is not None:
            return self.metrics_server
        port = self.settings.metrics_port
        if port is None:
            raise ValueError("settings.metrics_port is not set")
        try:
            self.metrics_server = start_metrics_server(
                port, self.settings.metrics_addr, self.registry, self.settings
            )
        except OSError as exc:
            # another worker of the same service already serves the port
            logger.warning("metrics port %s not served by this process: %s", port, exc.strerror)
            return None
        return self.metrics_server

    # -- operations (the seed's API) -------------------------------------------------------
    def monitor_performance(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator timing a function, coroutine or (async) generator."""
        return self.operations.timed(name)

    def performance_context(self, name: str) -> OperationTimer:
        """``with monitor.performance_context("resize"): ...``"""
        return self.operations.timer(name)

    def async_performance_context(self, name: str) -> OperationTimer:
        """``async with monitor.async_performance_context("upload"): ...``"""
        return self.operations.timer(name)

    def track_custom_operation(
        self,
        name: str,
        start_time: float,
        end_time: float,
        success: bool = True,
        error: BaseException | str | None = None,
    ) -> None:
        """Record an operation the caller timed itself."""
        self.operations.track(name, start_time, end_time, success, error)

    # -- alerts (the seed's add_alert_callback; Alertmanager -> exporter.webhook) ----------
    def alert_dispatcher(self) -> AlertDispatcher:
        """Where this monitor's alert callbacks are kept and run (created once)."""
        if self._alerts is None:
            from exporter.alerting.dispatch import AlertDispatcher

            self._alerts = AlertDispatcher(self.registry)
        return self._alerts

    def add_alert_callback(self, callback: AlertCallback) -> AlertCallback:
        """Call ``callback(alert)`` (sync or async) for each alert Alertmanager delivers.

        Alerts reach it through the receiver mounted with :meth:`mount_alert_receiver`.
        Returns ``callback``, so it also works as a decorator.
        """
        return self.alert_dispatcher().add_callback(callback)

    def mount_alert_receiver(
        self,
        app: Any,
        path: str = "/alerts",
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        max_body_bytes: int | None = None,
    ) -> AlertReceiver:
        """Serve Alertmanager's webhook at ``path`` in ``app``; point ``webhook_configs`` here."""
        from exporter.httpauth import Credentials
        from exporter.webhook import DEFAULT_MAX_BODY_BYTES, AlertReceiver

        if bearer_token is not None and basic_auth is not None:
            raise ValueError("give either bearer_token or basic_auth, not both")
        user, password = basic_auth if basic_auth is not None else (None, None)
        receiver = AlertReceiver(
            self.alert_dispatcher(),
            credentials=Credentials(bearer_token, user, password),
            max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES,
        )
        # first, so that a catch-all route of the app cannot shadow it
        app.router.routes.insert(0, Route(path, receiver, include_in_schema=False))
        return receiver


class _MiddlewareFactory:
    def __init__(self, registry: CollectorRegistry | None, settings: Settings) -> None:
        self.registry = registry
        self.settings = settings

    def __call__(self, app: ASGIApp) -> PrometheusMiddleware:
        return PrometheusMiddleware(app, registry=self.registry, settings=self.settings)


def instrument(
    app: Any,
    *,
    registry: CollectorRegistry | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> PerformanceMonitor:
    """Instrument a Starlette or FastAPI app in one call and return its monitor.

    ``options`` are :class:`exporter.config.Settings` fields (``excluded_paths``,
    ``bearer_token``, ``metrics_port``...); unset ones come from ``EXPORTER_*`` variables.
    """
    return PerformanceMonitor(registry, settings, **options).instrument(app)
