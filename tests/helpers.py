"""Small helpers shared by the tests: reading samples and driving raw ASGI apps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry

Message = dict[str, Any]


def requests_count(
    registry: CollectorRegistry, route: str, status: str = "200", method: str = "GET"
) -> float:
    """How many requests the registry recorded for one label set (0 when none)."""
    labels = {"method": method, "route": route, "status": status}
    value = registry.get_sample_value("http_server_request_duration_seconds_count", labels)
    return value or 0.0


def series(registry: CollectorRegistry, name: str) -> list[dict[str, str]]:
    """Label sets of every sample called ``name``."""
    return [
        dict(sample.labels)
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    ]


def http_scope(path: str = "/", method: str = "GET", **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


async def call_asgi(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    incoming: list[Message] | None = None,
) -> list[Message]:
    """Run ``app`` once; ``incoming`` are the receive() messages, then it waits forever."""
    queue = list(incoming or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[Message] = []

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()  # like a server: nothing more until the client goes away
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent
