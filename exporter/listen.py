"""Binding HOST:PORT for a server, with a one-line error when it cannot be done.

uvicorn reports a busy port or an unknown host with its own log line and exit status 3;
the CLI binds (or checks) first so the user gets the project's one-line error (exit 1) naming
the option.
"""

from __future__ import annotations

import errno
import socket

from exporter.errors import ExporterError


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening), or ExporterError saying why not.

    Hand it to ``uvicorn.Server.run(sockets=[...])``: the server then cannot fail to bind,
    and the caller knows it listens before saying so.
    """
    if not 0 <= port < 65536:
        raise ExporterError(f"--port: not a TCP port: {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ExporterError(f"--host {host!r}: cannot resolve it: {_reason(exc)}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ExporterError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            + (" (is another server running there?)" if exc.errno == errno.EADDRINUSE else "")
        ) from None
    return sock


def ensure_can_listen(host: str, port: int) -> None:
    """Raise ExporterError when ``host:port`` cannot be listened on right now."""
    bind_socket(host, port).close()


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
