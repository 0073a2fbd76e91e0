"""Shared fixtures: a fresh registry per test, so no test depends on global state."""

from __future__ import annotations

import os

# prometheus_client's *_created series only add noise; read when prometheus_client is imported
os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from exporter.stack.servers import ManagedProcess, free_port, start_python_app


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, the loop uvicorn uses."""
    return "asyncio"


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    """The demo under a real uvicorn, shared by the tests of a session.

    Tests that change its behaviour through ``PUT /demo/config`` put the defaults back.
    """
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    args = ["exporter", "demo", "--port", str(port), "--error-rate", "0"]
    server = start_python_app("demo", args, workdir, port)
    try:
        yield server
    finally:
        server.stop()
