"""Scrape-time collectors: host usage (psutil) and GPU usage (NVML).

They run when Prometheus scrapes, never in a background loop, and a failing collector yields
fewer samples plus ``exporter_collector_errors_total{collector=...}``, never a failed scrape.
"""

from __future__ import annotations

import threading
import weakref

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

__all__ = ["GpuCollector", "SystemCollector", "install_collectors"]

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
            registry.register(SystemCollector(errors, mountpoints=settings.disk_mountpoints))
        if settings.gpu_metrics:
            registry.register(GpuCollector(errors))
        if registry is not REGISTRY and not metrics.multiprocess:
            # the global registry has these already; a fresh one gets them here
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
