"""Shared fixtures: a fresh registry per test, so no test depends on global state."""

from __future__ import annotations

import os

import pytest
from prometheus_client import CollectorRegistry

# prometheus_client's *_created series only add noise to the assertions
os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()
