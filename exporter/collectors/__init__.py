"""Scrape-time collectors: host usage (psutil) and GPU usage (NVML).

They run when Prometheus scrapes, never in a background loop, and a failing collector yields
fewer samples plus ``exporter_collector_errors_total{collector=...}``, never a failed scrape.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)

from exporter.collectors.gpu import GpuCollector
from exporter.collectors.system import SystemCollector
from exporter.config import Settings
from exporter.metrics import ExporterMetrics

__all__ = ["GpuCollector", "SystemCollector", "add_collector", "install_collectors"]

_installed: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()
_lock = threading.Lock()


def install_collectors(
    registry: CollectorRegistry, settings: Settings, metrics: ExporterMetrics
) -> None:
    """Register the scrape-time collectors on ``registry`` once, whatever calls it how often."""
    with _lock:
        if registry in _installed:
            return
        _installed.add(registry)
        errors = metrics.collector_errors
        if settings.system_metrics:
            add_collector(registry, metrics, SystemCollector(errors, settings.disk_mountpoints))
        if settings.gpu_metrics:
            add_collector(registry, metrics, GpuCollector(errors))
        if registry is not REGISTRY and not metrics.multiprocess:
            # the global registry has these already; a fresh one gets them here
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)


def add_collector(registry: CollectorRegistry, metrics: ExporterMetrics, collector: Any) -> None:
    """Register a scrape-time collector, keeping the error counter after it.

    The counter is rendered last so that a scrape already shows the failures that happened
    while it was being collected.
    """
    registry.register(collector)
    if not metrics.multiprocess:
        with contextlib.suppress(KeyError):
            registry.unregister(metrics.errors_collector)
        registry.register(metrics.errors_collector)
