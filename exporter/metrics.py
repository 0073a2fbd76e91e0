"""Every metric the exporter records, defined once against an injected registry.

Recording a request must cost a few microseconds, so the request path never goes through
prometheus_client's ``labels(...).observe(...)`` (about 10 µs per call inside a real request).
Instead each metric keeps plain cells keyed by the tuple of label values: observing is a bisect,
a dict lookup and two additions under a lock, and the metric families are built from the cells
when Prometheus scrapes (the pull model). Memory is bounded by the number of label sets, which
the middleware keeps bounded (route templates, ``__unmatched__``, ``_OTHER``).

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set, e.g. ``uvicorn --workers 2``) the same
calls go to prometheus_client's file-backed metrics instead, so that the process answering the
scrape can aggregate every worker's observations.
"""

from __future__ import annotations

import os
import threading
import weakref
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import Counter as ClientCounter
from prometheus_client import Gauge as ClientGauge
from prometheus_client import Histogram as ClientHistogram
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from exporter._version import __version__
from exporter.config import DEFAULT_BUCKETS
from exporter.errors import ConfigError

LabelValues = tuple[str, ...]
_CellsT = TypeVar("_CellsT", "HistogramCells", "GaugeCells", "CounterCells")

#: Buckets (bytes) of the optional body-size histograms.
SIZE_BUCKETS: tuple[float, ...] = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)


def multiprocess_dir() -> str | None:
    """The multiprocess directory when prometheus_client's multiprocess mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Histogram(Protocol):
    def observe(self, labels: LabelValues, value: float) -> None: ...


class Gauge(Protocol):
    def inc(self, labels: LabelValues) -> None: ...
    def dec(self, labels: LabelValues) -> None: ...


class Counter(Protocol):
    def inc(self, labels: LabelValues, amount: float = 1.0) -> None: ...


class HistogramCells:
    """A labelled histogram stored as per-label-set bucket counts, rendered at collect time."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        lock: threading.Lock | None = None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.buckets = tuple(float(b) for b in buckets)
        self._le = (*(floatToGoString(b) for b in self.buckets), "+Inf")  # type: ignore[no-untyped-call]
        # cell layout: one count per bucket (non-cumulative), the +Inf overflow, then the sum
        self._width = len(self.buckets) + 2
        self._cells: dict[LabelValues, list[float]] = {}
        self._lock = lock or threading.Lock()

    def observe(self, labels: LabelValues, value: float) -> None:
        i = bisect_left(self.buckets, value)
        with self._lock:
            self._add(labels, i, value)

    def _add(self, labels: LabelValues, index: int, value: float) -> None:
        """Count ``value`` in bucket ``index``; the caller holds the lock."""
        cell = self._cells.get(labels)
        if cell is None:
            cell = self._cells[labels] = [0] * self._width
        cell[index] += 1
        cell[-1] += value

    def snapshot(self) -> list[tuple[LabelValues, list[float]]]:
        with self._lock:
            return [(k, v[:]) for k, v in self._cells.items()]

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, cell in self.snapshot():
            running = 0.0
            buckets = []
            for le, count in zip(self._le, cell[:-1], strict=True):
                running += count
                buckets.append((le, running))
            family.add_metric(labels, buckets, cell[-1])
        return family


class GaugeCells:
    """A labelled gauge of plain floats."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        lock: threading.Lock | None = None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[LabelValues, float] = {}
        self._lock = lock or threading.Lock()

    def inc(self, labels: LabelValues) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + 1.0

    def dec(self, labels: LabelValues) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) - 1.0

    def value(self, labels: LabelValues) -> float:
        return self._values.get(labels, 0.0)

    def collect(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            items = list(self._values.items())
        for labels, value in items:
            family.add_metric(labels, value)
        return family


class CounterCells:
    """A labelled counter of plain floats (exposed with the ``_total`` suffix)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[LabelValues, float] = {}
        self._lock = threading.Lock()

    def inc(self, labels: LabelValues, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            items = list(self._values.items())
        for labels, value in items:
            family.add_metric(labels, value)
        return family


class RequestRecorder(Protocol):
    """The per-request hot path of the middleware."""

    def started(self, method: LabelValues) -> None: ...

    def finished(
        self, method: LabelValues, labels: LabelValues, duration: float, ttfb: float
    ) -> None: ...


class CellsRequestRecorder:
    """In-flight gauge and both HTTP histograms updated under one shared lock.

    The same as ``inc``/``dec`` plus two ``observe`` calls, with two lock round trips per
    request instead of four; a scrape sees the three metrics consistent with each other.
    """

    def __init__(self, duration: HistogramCells, ttfb: HistogramCells, active: GaugeCells) -> None:
        if duration.buckets != ttfb.buckets or not (duration._lock is ttfb._lock is active._lock):
            raise ValueError("request cells must share buckets and lock")
        self._duration = duration
        self._ttfb = ttfb
        self._active = active._values
        self._lock = duration._lock
        self._buckets = duration.buckets

    def started(self, method: LabelValues) -> None:
        with self._lock:
            self._active[method] = self._active.get(method, 0.0) + 1.0

    def finished(
        self, method: LabelValues, labels: LabelValues, duration: float, ttfb: float
    ) -> None:
        i = bisect_left(self._buckets, duration)
        j = bisect_left(self._buckets, ttfb)
        with self._lock:
            self._active[method] -= 1.0
            self._duration._add(labels, i, duration)
            self._ttfb._add(labels, j, ttfb)


class SeparateRequestRecorder:
    """The same recording through the three metrics' own calls (multiprocess mode)."""

    def __init__(self, duration: Histogram, ttfb: Histogram, active: Gauge) -> None:
        self._duration = duration
        self._ttfb = ttfb
        self._active = active

    def started(self, method: LabelValues) -> None:
        self._active.inc(method)

    def finished(
        self, method: LabelValues, labels: LabelValues, duration: float, ttfb: float
    ) -> None:
        self._active.dec(method)
        self._duration.observe(labels, duration)
        self._ttfb.observe(labels, ttfb)


class _ClientChildren:
    """Caches ``labels(...)`` children of a prometheus_client metric (multiprocess mode)."""

    def __init__(self, metric: ClientHistogram | ClientGauge | ClientCounter) -> None:
        self._metric = metric
        self._children: dict[LabelValues, object] = {}
        self._lock = threading.Lock()

    def child(self, labels: LabelValues) -> object:
        child = self._children.get(labels)
        if child is None:
            with self._lock:
                child = self._children[labels] = self._metric.labels(*labels)
        return child


class ClientHistogramAdapter(_ClientChildren):
    def observe(self, labels: LabelValues, value: float) -> None:
        self.child(labels).observe(value)  # type: ignore[attr-defined]


class ClientGaugeAdapter(_ClientChildren):
    def inc(self, labels: LabelValues) -> None:
        self.child(labels).inc()  # type: ignore[attr-defined]

    def dec(self, labels: LabelValues) -> None:
        self.child(labels).dec()  # type: ignore[attr-defined]


class ClientCounterAdapter(_ClientChildren):
    def inc(self, labels: LabelValues, amount: float = 1.0) -> None:
        self.child(labels).inc(amount)  # type: ignore[attr-defined]


class ExporterMetrics:
    """The metric contract (DESIGN §3): one instance per registry, shared by every middleware."""

    def __init__(self, buckets: Sequence[float] = DEFAULT_BUCKETS, multiprocess: bool = False):
        self.buckets = tuple(float(b) for b in buckets)
        self.multiprocess = multiprocess
        self.collector = CellsCollector()
        http = ("method", "route", "status")
        request_lock = threading.Lock()  # shared by the three metrics of the request path
        self.request_duration = self._histogram(
            "http_server_request_duration_seconds",
            "Response time: from receiving the request to sending the last body byte.",
            http,
            self.buckets,
            request_lock,
        )
        self.time_to_first_byte = self._histogram(
            "http_server_time_to_first_byte_seconds",
            "Latency: from receiving the request to sending the response headers.",
            http,
            self.buckets,
            request_lock,
        )
        self.active_requests = self._gauge(
            "http_server_active_requests",
            "HTTP requests currently in flight.",
            ("method",),
            request_lock,
        )
        self.requests: RequestRecorder
        if isinstance(self.request_duration, HistogramCells):
            assert isinstance(self.time_to_first_byte, HistogramCells)
            assert isinstance(self.active_requests, GaugeCells)
            self.requests = CellsRequestRecorder(
                self.request_duration, self.time_to_first_byte, self.active_requests
            )
        else:
            self.requests = SeparateRequestRecorder(
                self.request_duration, self.time_to_first_byte, self.active_requests
            )
        self.exceptions = self._counter(
            "http_server_exceptions_total",
            "Unhandled exceptions raised by the application, by class name.",
            ("method", "route", "exception"),
        )
        self.request_body_size = self._histogram(
            "http_server_request_body_size_bytes",
            "Size of request bodies as received.",
            ("method", "route"),
            SIZE_BUCKETS,
        )
        self.response_body_size = self._histogram(
            "http_server_response_body_size_bytes",
            "Size of response bodies as sent.",
            ("method", "route"),
            SIZE_BUCKETS,
        )
        self.operation_duration = self._histogram(
            "operation_duration_seconds",
            "Duration of instrumented operations (decorator, context manager, manual tracking).",
            ("operation", "outcome"),
            self.buckets,
        )
        self.operation_active = self._gauge(
            "operation_active", "Instrumented operations currently running.", ("operation",)
        )
        # Rendered by its own collector, registered after the scrape-time collectors, so that a
        # scrape already shows the failures that happened while it was collected.
        self.errors_collector = CellsCollector()
        self.collector_errors = self._counter(
            "exporter_collector_errors_total",
            "Scrape-time collectors that failed; their samples are missing from that scrape.",
            ("collector",),
            self.errors_collector,
        )

    def _histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str],
        buckets: Sequence[float],
        lock: threading.Lock | None = None,
    ) -> Histogram:
        if self.multiprocess:
            metric = ClientHistogram(name, doc, labels, buckets=buckets, registry=None)
            return ClientHistogramAdapter(metric)
        return self._keep(HistogramCells(name, doc, labels, buckets, lock))

    def _gauge(
        self, name: str, doc: str, labels: Sequence[str], lock: threading.Lock | None = None
    ) -> Gauge:
        if self.multiprocess:
            metric = ClientGauge(name, doc, labels, registry=None, multiprocess_mode="livesum")
            return ClientGaugeAdapter(metric)
        return self._keep(GaugeCells(name, doc, labels, lock))

    def _counter(
        self, name: str, doc: str, labels: Sequence[str], into: CellsCollector | None = None
    ) -> Counter:
        if self.multiprocess:
            return ClientCounterAdapter(ClientCounter(name, doc, labels, registry=None))
        return self._keep(CounterCells(name, doc, labels), into)

    def _keep(self, cells: _CellsT, into: CellsCollector | None = None) -> _CellsT:
        (into or self.collector).cells.append(cells)
        return cells


_rendering = threading.local()


@contextmanager
def histograms_rendered_separately() -> Iterator[None]:
    """While active in this thread, collect() leaves the histogram cells out.

    The ``/metrics`` renderer writes them itself, much faster (exporter.render); any other
    reader of the registry (other threads, ``get_sample_value``) still gets everything.
    """
    _rendering.separately = True
    try:
        yield
    finally:
        _rendering.separately = False


class CellsCollector:
    """Renders cells at collect time (empty in multiprocess mode, where files hold the data)."""

    def __init__(self) -> None:
        self.cells: list[HistogramCells | GaugeCells | CounterCells] = []

    def collect(self) -> Iterator[Metric]:
        skip_histograms = bool(getattr(_rendering, "separately", False))
        for cells in self.cells:
            if skip_histograms and isinstance(cells, HistogramCells):
                continue
            yield cells.collect()

    def histograms(self) -> list[HistogramCells]:
        return [c for c in self.cells if isinstance(c, HistogramCells)]

    def describe(self) -> Iterable[Metric]:
        # Lets the registry detect a name clash at registration, without collecting.
        for cells in self.cells:
            yield Metric(cells.name.removesuffix("_total"), cells.documentation, "untyped")


class BuildInfoCollector:
    """``exporter_build_info{version}`` = 1."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "exporter_build_info", "Version of the exporter package; always 1.", labels=("version",)
        )
        family.add_metric((__version__,), 1.0)
        yield family


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ExporterMetrics] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def metrics_for(
    registry: CollectorRegistry | None = None, buckets: Sequence[float] = DEFAULT_BUCKETS
) -> ExporterMetrics:
    """The metrics of ``registry`` (default: the global one), created on first use.

    Creating middleware twice, or Starlette rebuilding its middleware stack, reuses the same
    metrics instead of failing with a duplicate-registration error.
    """
    registry = REGISTRY if registry is None else registry
    wanted = tuple(float(b) for b in buckets)
    with _lock:
        existing = _by_registry.get(registry)
        if existing is not None:
            if existing.buckets != wanted:
                raise ConfigError(
                    "the exporter's metrics are already registered on this registry with buckets "
                    f"{list(existing.buckets)}; pass the same buckets or another registry"
                )
            return existing
        metrics = ExporterMetrics(wanted, multiprocess=multiprocess_dir() is not None)
        if not metrics.multiprocess:
            registry.register(metrics.collector)
            registry.register(BuildInfoCollector())
            registry.register(metrics.errors_collector)
        _by_registry[registry] = metrics
        return metrics
