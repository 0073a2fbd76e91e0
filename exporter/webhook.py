"""Alertmanager's webhook receiver: notifications in, Python alert callbacks out.

:class:`AlertReceiver` is an ASGI app that accepts Alertmanager's webhook payload (version 4),
validates it and hands the alerts to an :class:`~exporter.alerting.dispatch.AlertDispatcher`, which
runs the registered callbacks off the request path. Mount it in your own app::

    monitor = exporter.instrument(app)
    monitor.add_alert_callback(on_alert)          # on_alert(alert: exporter.Alert)
    monitor.mount_alert_receiver(app, "/alerts")  # Alertmanager posts to /alerts

or run it on its own (``/alerts``, its own ``/metrics`` and ``/health``)::

    exporter webhook --port 9095 --callback mypackage.alerts:on_alert

Answers: 200 with a JSON summary; 400 not JSON; 401 missing or wrong credentials; 405 not a
POST; 413 body too large; 422 not a version-4 notification; 503 callback queue full (Alertmanager
retries 5xx, not 4xx). Every error body is one line saying what was wrong, and no callback runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter.alerting.alerts import Alert, PayloadError, UnsupportedVersion, parse_notification
from exporter.alerting.dispatch import (
    DEFAULT_QUEUE_SIZE,
    AlertCallback,
    AlertDispatcher,
    QueueFull,
)
from exporter.errors import ExporterError
from exporter.httpauth import Credentials
from exporter.listen import bind_socket

logger = logging.getLogger(__name__)

DEFAULT_PORT = 9095
DEFAULT_PATH = "/alerts"
#: Alertmanager sends every alert of a group in one body; 1 MiB holds well over 1000 alerts.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
BEARER_TOKEN_ENV = "EXPORTER_WEBHOOK_BEARER_TOKEN"
BASIC_AUTH_ENV = "EXPORTER_WEBHOOK_BASIC_AUTH"


class AlertReceiver:
    """ASGI app: POST an Alertmanager notification, the dispatcher runs the callbacks."""

    def __init__(
        self,
        dispatcher: AlertDispatcher | None = None,
        *,
        credentials: Credentials | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if max_body_bytes < 1:
            raise ExporterError("max_body_bytes must be positive")
        self.dispatcher = dispatcher if dispatcher is not None else AlertDispatcher()
        self.credentials = credentials or Credentials()
        self.max_body_bytes = max_body_bytes

    def add_callback(self, callback: AlertCallback) -> AlertCallback:
        return self.dispatcher.add_callback(callback)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # run directly under a server, not mounted
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        status, reason, payload = await self._handle(scope, receive)
        if status == 0:  # the client went away; nobody to answer
            return
        metrics = self.dispatcher.metrics
        if status >= 400:
            metrics.rejected.inc((reason,))
            logger.warning("alert notification rejected (%d): %s", status, payload)
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if status == 401:
                headers.append((b"www-authenticate", self.credentials.challenge("alerts").encode()))
            elif status == 405:
                headers.append((b"allow", b"POST"))
            elif status == 503:
                headers.append((b"retry-after", b"5"))
            await _respond(send, status, headers, (payload + "\n").encode())
            return
        await _respond(send, 200, [(b"content-type", b"application/json")], payload.encode())

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, str, str]:
        """(status, reject reason, body text); status 0 when the client disconnected."""
        if scope["method"] != "POST":
            return 405, "method_not_allowed", f"method {scope['method']} not allowed; use POST"
        if not self.credentials.accepts(_header(scope, b"authorization")):
            return 401, "unauthorized", "missing or wrong credentials"
        too_large = f"body larger than {self.max_body_bytes} bytes"
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return 413, "too_large", too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 0, "", ""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return 413, "too_large", too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            data = json.loads(b"".join(chunks), parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return 400, "not_json", "body is not JSON"
        try:
            notification = parse_notification(data)
        except UnsupportedVersion as exc:
            return 422, "unsupported_version", str(exc)
        except PayloadError as exc:
            return 422, "invalid", f"not an Alertmanager notification: {exc}"
        try:
            submitted = self.dispatcher.submit(notification)
        except QueueFull as exc:
            return 503, "queue_full", f"callback queue full: {exc}"
        answer = {
            "status": "ok",
            "alerts": len(notification.alerts),
            "queued": submitted.queued,
            "duplicates": submitted.duplicates,
        }
        return 200, "", json.dumps(answer)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        import anyio.to_thread

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await anyio.to_thread.run_sync(self.dispatcher.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _refuse_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are Python's extensions, not JSON."""
    raise ValueError(f"{name} is not JSON")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def create_webhook_app(
    receiver: AlertReceiver,
    path: str = DEFAULT_PATH,
    registry: CollectorRegistry | None = None,
) -> Any:
    """The standalone app: ``path`` (the receiver), ``/metrics`` and ``/health``.

    Its own requests are instrumented like any app's, so ``/metrics`` shows the receiver's
    metrics next to ``http_server_request_duration_seconds{route="/alerts"}``. Shutting it
    down runs what is queued (up to 5 s) before the process exits.
    """
    import anyio.to_thread
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    import exporter

    if not path.startswith("/"):
        raise ExporterError(f"the receiver path must start with '/', got {path!r}")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "queued_alerts": receiver.dispatcher.queue_length()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(receiver.dispatcher.close)

    app = Starlette(
        routes=[Route(path, receiver), Route("/health", health, methods=["GET"])],
        lifespan=lifespan,
    )
    exporter.instrument(app, registry=registry, system_metrics=False, gpu_metrics=False)
    return app


class BackgroundServer:
    """An ASGI app served by uvicorn in a daemon thread (``make run``, tests)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self._socket = bind_socket(host, port)
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ExporterError(f"the server on {self.url} did not start")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()


def start_receiver_server(
    receiver: AlertReceiver,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = DEFAULT_PATH,
    registry: CollectorRegistry | None = None,
) -> BackgroundServer:
    """The standalone app on ``host:port`` (0 = any free port) in a background thread."""
    app = create_webhook_app(receiver, path, registry)
    return BackgroundServer(app, host, port).start()


def log_alert(alert: Alert) -> None:
    """The default callback of ``exporter webhook``: one log line per alert."""
    logger.info("alert: %s", alert)


# -- the ``exporter webhook`` command ------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument("--path", default=DEFAULT_PATH, help="where Alertmanager posts")
    parser.add_argument(
        "--callback",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="call FUNCTION(alert) for every alert (repeatable; the current directory is "
        "importable)",
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--bearer-token",
        help=f"require 'Authorization: Bearer TOKEN' (default: ${BEARER_TOKEN_ENV})",
    )
    auth.add_argument("--bearer-token-file", type=Path, help="read the bearer token from a file")
    auth.add_argument(
        "--basic-auth",
        metavar="USER:PASSWORD",
        help=f"require basic auth (default: ${BASIC_AUTH_ENV})",
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=DEFAULT_QUEUE_SIZE,
        help="alerts waiting for the callbacks before Alertmanager is asked to retry (503)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="larger bodies: 413"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log every alert")


def credentials_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> Credentials:
    """The credentials the options ask for; an option overrides the environment variables.

    An empty or unset variable means "not set" (as for the ``EXPORTER_*`` settings); an
    empty option or token file is an error, never "no authentication".
    """
    env = os.environ if environ is None else environ
    if args.bearer_token_file is not None:
        try:
            token = args.bearer_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ExporterError(f"--bearer-token-file: cannot read: {exc.strerror}") from None
        if not token:
            raise ExporterError(f"--bearer-token-file: {args.bearer_token_file} is empty")
        return Credentials(bearer_token=token)
    if args.bearer_token is not None:
        if not args.bearer_token:
            raise ExporterError("--bearer-token: must not be empty")
        return Credentials(bearer_token=args.bearer_token)
    if args.basic_auth is not None:
        return _basic_auth(args.basic_auth, "--basic-auth")
    token = env.get(BEARER_TOKEN_ENV) or None
    basic = env.get(BASIC_AUTH_ENV) or None
    if token is not None and basic is not None:
        raise ExporterError(f"${BEARER_TOKEN_ENV} and ${BASIC_AUTH_ENV} are both set; set one")
    if token is not None:
        return Credentials(bearer_token=token)
    if basic is not None:
        return _basic_auth(basic, f"${BASIC_AUTH_ENV}")
    return Credentials()


def _basic_auth(value: str, where: str) -> Credentials:
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise ExporterError(f"{where}: expected USER:PASSWORD")
    return Credentials(basic_user=user, basic_password=password)


def load_callback(spec: str) -> Callable[[Alert], Any]:
    """``module:function`` -> the function, or a one-line error saying what is wrong."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ExporterError(f"--callback {spec!r}: expected MODULE:FUNCTION")
    if os.getcwd() not in sys.path:  # like uvicorn: modules next to you are importable
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExporterError(f"--callback {spec!r}: cannot import {module_name}: {exc}") from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ExporterError(f"--callback {spec!r}: {module_name} has no {attribute}") from None
    if not callable(target):
        raise ExporterError(f"--callback {spec!r}: {attribute} is not callable")
    return target  # type: ignore[no-any-return]


def build_receiver(
    args: argparse.Namespace, registry: CollectorRegistry | None = None
) -> AlertReceiver:
    """The receiver the command line describes (callbacks loaded, options checked)."""
    if args.queue_size < 1:
        raise ExporterError("--queue-size must be at least 1")
    if args.max_body_bytes < 1:
        raise ExporterError("--max-body-bytes must be positive")
    if not str(args.path).startswith("/"):
        raise ExporterError(f"--path must start with '/', got {args.path!r}")
    receiver = AlertReceiver(
        AlertDispatcher(registry, queue_size=args.queue_size),
        credentials=credentials_from_args(args),
        max_body_bytes=args.max_body_bytes,
    )
    if not args.quiet:
        receiver.add_callback(log_alert)
    for spec in args.callback:
        receiver.add_callback(load_callback(spec))
    return receiver


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ExporterError(
            "the webhook receiver needs uvicorn: pip install 'api-perf-exporter[demo]'"
        ) from None
    if not 0 < args.port < 65536:
        raise ExporterError(f"--port: not a TCP port: {args.port}")
    receiver = build_receiver(args)
    app = create_webhook_app(receiver, args.path)
    # bound here, not by uvicorn: a busy port or unknown host is a one-line error, and the
    # line below is only written once the receiver listens
    sock = bind_socket(args.host, args.port)
    with sock:
        sock.listen()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logger.info(
            "alert receiver on http://%s:%d%s (%s)",
            args.host,
            args.port,
            args.path,
            "authentication required" if receiver.credentials.required else "no authentication",
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stopped, as uvicorn.run does
            server.run(sockets=[sock])
    return 0 if server.started else 3
