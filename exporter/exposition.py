"""The ``/metrics`` endpoint: an ASGI app, and the same rendering on a separate port.

Content negotiation (Prometheus text or OpenMetrics, from ``Accept``), gzip when accepted, an
optional bearer token or basic auth, and multiprocess aggregation when
``PROMETHEUS_MULTIPROC_DIR`` is set. Rendering runs in a worker thread so a large registry does
not stall the event loop.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio.to_thread
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from starlette.types import Receive, Scope, Send

from exporter.collectors import install_collectors
from exporter.config import Settings
from exporter.httpauth import Credentials
from exporter.metrics import (
    BuildInfoCollector,
    histograms_rendered_separately,
    metrics_for,
    multiprocess_dir,
)
from exporter.render import HistogramText

logger = logging.getLogger(__name__)

_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


@dataclass(frozen=True)
class Rendered:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MetricsRenderer:
    """Framework-free rendering of a scrape: (headers in) -> (status, headers, body out)."""

    def __init__(
        self, registry: CollectorRegistry | None = None, settings: Settings | None = None
    ) -> None:
        self.settings = settings or Settings.from_env()
        s = self.settings
        self._credentials = Credentials(s.bearer_token, s.basic_auth_user, s.basic_auth_password)
        self._mp_dir = multiprocess_dir()
        if self._mp_dir is not None:
            # Workers write their samples to files; whoever answers the scrape merges them.
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry, path=self._mp_dir)  # type: ignore[no-untyped-call]
            self.registry.register(BuildInfoCollector())
        else:
            self.registry = REGISTRY if registry is None else registry
        metrics = metrics_for(registry, self.settings.buckets)
        install_collectors(self.registry, self.settings, metrics)
        # in-process cells: histograms written by the fast renderer (files in multiprocess mode)
        self._histograms = (
            []
            if metrics.multiprocess
            else [HistogramText(c) for c in metrics.collector.histograms()]
        )

    def _encode(self, encoder: Callable[[CollectorRegistry], bytes], content_type: str) -> bytes:
        if not self._histograms:
            return encoder(self.registry)
        openmetrics = content_type.startswith("application/openmetrics-text")
        with histograms_rendered_separately():
            body = encoder(self.registry)
        extra = "".join(h.render(openmetrics) for h in self._histograms).encode()
        if openmetrics and body.endswith(b"# EOF\n"):
            return body[: -len(b"# EOF\n")] + extra + b"# EOF\n"
        return body + extra

    def check_auth(self, authorization: str | None) -> bool:
        return self._credentials.accepts(authorization)

    def render(
        self,
        method: str,
        accept: str | None,
        accept_encoding: str | None,
        authorization: str | None,
    ) -> Rendered:
        """The whole response to a scrape. Blocking: call it off the event loop."""
        if method not in ("GET", "HEAD"):
            return Rendered(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"")
        if not self.check_auth(authorization):
            body = b"Unauthorized\n"
            challenge = self._credentials.challenge("metrics")
            headers = [("WWW-Authenticate", challenge), ("Content-Type", "text/plain")]
            return Rendered(401, headers, body)
        if self._mp_dir is not None:
            _forget_dead_workers(self._mp_dir)
        encoder, content_type = choose_encoder(accept or "")
        body = self._encode(encoder, content_type)
        headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
        if _accepts_gzip(accept_encoding):
            body = gzip.compress(body, compresslevel=6)
            headers.append(("Content-Encoding", "gzip"))
        if method == "HEAD":
            headers.append(("Content-Length", str(len(body))))
            body = b""
        return Rendered(200, headers, body)


def _accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            q = params.strip().replace(" ", "")
            return q not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _forget_dead_workers(path: str) -> None:
    """Drop the live-gauge files of workers that are gone, so in-flight counts don't stick."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        m = _LIVE_GAUGE_FILE.match(name)
        if m is None:
            continue
        pid = int(m.group(1))
        if not _alive(pid):
            with contextlib.suppress(OSError):
                multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class MetricsApp:
    """ASGI app serving the scrape; mount it with ``Route("/metrics", MetricsApp())``.

    Also answers ASGI lifespan events, so it can be run on its own (``uvicorn module:app``).
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, settings: Settings | None = None
    ) -> None:
        self.renderer = MetricsRenderer(registry, settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # websocket: refuse the handshake
            await send({"type": "websocket.close", "code": 1000})
            return
        rendered = await anyio.to_thread.run_sync(
            self.renderer.render,
            scope["method"],
            _header(scope, b"accept"),
            _header(scope, b"accept-encoding"),
            _header(scope, b"authorization"),
        )
        headers = [(k.lower().encode(), v.encode()) for k, v in rendered.headers]
        if not any(k == b"content-length" for k, _ in headers):
            headers.append((b"content-length", str(len(rendered.body)).encode()))
        await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
        await send({"type": "http.response.body", "body": rendered.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class MetricsServer:
    """``/metrics`` on a port of its own, in a daemon thread (one per process)."""

    def __init__(self, renderer: MetricsRenderer, port: int, addr: str = "0.0.0.0") -> None:
        self.renderer = renderer
        handler = _handler_for(renderer, renderer.settings.metrics_path)
        self._server = ThreadingHTTPServer((addr, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="exporter-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(renderer: MetricsRenderer, path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            if self.path.split("?", 1)[0] != path:
                self.send_error(404)
                return
            rendered = renderer.render(
                self.command,
                self.headers.get("Accept"),
                self.headers.get("Accept-Encoding"),
                self.headers.get("Authorization"),
            )
            self.send_response(rendered.status)
            for key, value in rendered.headers:
                self.send_header(key, value)
            if not any(k.lower() == "content-length" for k, _ in rendered.headers):
                self.send_header("Content-Length", str(len(rendered.body)))
            self.end_headers()
            self.wfile.write(rendered.body)

        do_GET = _serve
        do_HEAD = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("metrics server: " + format, *args)

    return Handler


def start_metrics_server(
    port: int,
    addr: str = "0.0.0.0",
    registry: CollectorRegistry | None = None,
    settings: Settings | None = None,
) -> MetricsServer:
    """Serve ``/metrics`` on ``addr:port`` in a background thread and return the server."""
    return MetricsServer(MetricsRenderer(registry, settings), port, addr).start()
