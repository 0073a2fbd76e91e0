"""Pure ASGI middleware that times every HTTP request and records it.

Per request it measures response time (received -> last body byte sent) and time to first byte
(received -> ``http.response.start`` sent), keeps the in-flight gauge, and counts unhandled
exceptions. It never changes what the app sends and re-raises the app's exception unchanged;
a failure inside the recording itself is logged and counted, never turned into a failed request.

Status rules: the code sent once the last body byte went out (an exception in a background task
after that does not change it, but is counted); an unhandled exception before that is 500, even
after the headers went out, since the client got a broken response; a client that went away, or
a cancelled request, before the last body byte is 499 (as nginx does). Requests that failed
before any header was sent record their time to failure as both response time and TTFB, so
both histograms count every request.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exporter.config import Settings
from exporter.metrics import metrics_for
from exporter.routes import RouteLabeler, method_label, route_path

logger = logging.getLogger(__name__)

_STATUS_LABELS = {code: str(code) for code in range(100, 600)}
_CLIENT_CLOSED = "499"
_SERVER_ERROR = "500"


class PrometheusMiddleware:
    """Records request metrics; add it with ``app.add_middleware(PrometheusMiddleware)``.

    Options are those of :class:`exporter.config.Settings` (``excluded_paths``, ``buckets``,
    ``body_sizes``...), or a ready ``settings`` object. Metrics go to ``registry`` (default: the
    global one); adding the middleware twice, or Starlette rebuilding its stack, is harmless.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.settings = settings.with_(**options) if settings else Settings.build(**options)
        metrics = metrics_for(registry, self.settings.buckets)
        self.metrics = metrics
        self._labeler = RouteLabeler()
        # the scrape endpoint is never recorded, wherever it is served
        self._excluded = self.settings.excluded_paths | {self.settings.metrics_path}
        self._body_sizes = self.settings.body_sizes
        # bound once: attribute lookups are a measurable part of a few-µs budget
        self._started = metrics.requests.started
        self._finished = metrics.requests.finished
        self._active_dec = metrics.active_requests.dec
        self._errors_logged: set[type[BaseException]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if (route_path(path, root_path) if root_path else path) in self._excluded:
            await self.app(scope, receive, send)
            return

        start = perf_counter()
        entry_app = scope.get("app")
        method = method_label(scope["method"])
        status = ""
        headers_at = 0.0
        done_at = 0.0
        disconnected = False
        sent_bytes = 0
        received_bytes = 0
        body_sizes = self._body_sizes

        async def send_wrapper(message: Message) -> None:
            nonlocal status, headers_at, done_at, sent_bytes, disconnected
            try:
                await send(message)
            except OSError:  # servers on ASGI spec 2.4 report a gone client this way
                disconnected = True
                raise
            kind = message["type"]
            if kind == "http.response.start":
                headers_at = perf_counter()
                status = _STATUS_LABELS.get(message["status"]) or str(message["status"])
            elif kind == "http.response.body":
                if body_sizes:
                    sent_bytes += len(message.get("body", b""))
                if not message.get("more_body", False):
                    done_at = perf_counter()
            elif kind == "http.response.pathsend" or (
                kind == "http.response.trailers" and not message.get("more_trailers", False)
            ):
                done_at = perf_counter()

        async def receive_wrapper() -> Message:
            nonlocal disconnected, received_bytes
            message = await receive()
            kind = message["type"]
            if kind == "http.disconnect":
                disconnected = True
            elif body_sizes and kind == "http.request":
                received_bytes += len(message.get("body", b""))
            return message

        method_key = (method,)
        self._started(method_key)
        error: BaseException | None = None
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BaseException as exc:
            error = exc
            raise
        finally:
            finished = False
            try:
                end = done_at or perf_counter()
                if done_at:  # the client got a whole response; later errors don't change it
                    outcome = status
                elif disconnected or _is_cancellation(error):
                    outcome = _CLIENT_CLOSED
                else:
                    outcome = _SERVER_ERROR
                route = self._labeler.label(scope, path, root_path, entry_app)
                key = (method, route, outcome)
                self._finished(method_key, key, end - start, (headers_at or end) - start)
                finished = True
                if error is not None and outcome != _CLIENT_CLOSED:
                    self.metrics.exceptions.inc((method, route, type(error).__name__))
                if body_sizes:
                    self.metrics.request_body_size.observe((method, route), received_bytes)
                    self.metrics.response_body_size.observe((method, route), sent_bytes)
            except Exception as exc:  # instrumentation fails open
                self._instrumentation_failed(exc)
            finally:
                if not finished:  # the in-flight count always comes back down
                    self._active_dec(method_key)

    def _instrumentation_failed(self, exc: Exception) -> None:
        self.metrics.collector_errors.inc(("middleware",))
        if type(exc) not in self._errors_logged:
            self._errors_logged.add(type(exc))
            logger.exception("recording a request failed; the request itself was not affected")


def _is_cancellation(error: BaseException | None) -> bool:
    if error is None:
        return False
    if isinstance(error, asyncio.CancelledError):
        return True
    # trio and anyio cancellations under other backends
    return type(error).__name__ == "Cancelled"
