"""Prometheus instrumentation for Starlette and FastAPI services.

Quick start::

    from fastapi import FastAPI
    import exporter

    app = FastAPI()
    exporter.instrument(app)   # request metrics + /metrics
"""

from exporter._version import __version__
from exporter.alerting.alerts import Alert
from exporter.alerting.dispatch import AlertDispatcher
from exporter.config import DEFAULT_BUCKETS, Settings
from exporter.errors import ConfigError, ExporterError
from exporter.exposition import MetricsApp, start_metrics_server
from exporter.metrics import ExporterMetrics, metrics_for
from exporter.middleware import PrometheusMiddleware
from exporter.monitor import PerformanceMonitor, instrument
from exporter.operations import Operations, OperationTimer
from exporter.reporting.live import live_app
from exporter.routes import UNMATCHED

__all__ = [
    "DEFAULT_BUCKETS",
    "UNMATCHED",
    "Alert",
    "AlertDispatcher",
    "ConfigError",
    "ExporterError",
    "ExporterMetrics",
    "MetricsApp",
    "OperationTimer",
    "Operations",
    "PerformanceMonitor",
    "PrometheusMiddleware",
    "Settings",
    "__version__",
    "instrument",
    "live_app",
    "metrics_for",
    "start_metrics_server",
]
