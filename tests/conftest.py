"""Shared fixtures: a fresh registry per test, so no test depends on global state."""

from __future__ import annotations

import os

# prometheus_client's *_created series only add noise; read when prometheus_client is imported
os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")

import pytest
from prometheus_client import CollectorRegistry


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, the loop uvicorn uses."""
    return "asyncio"
