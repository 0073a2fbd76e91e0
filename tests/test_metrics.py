"""The metric cells expose exactly what prometheus_client's own metrics would."""

from __future__ import annotations

import random
import threading

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from exporter import ConfigError, metrics_for
from exporter.config import DEFAULT_BUCKETS
from exporter.metrics import CounterCells, GaugeCells, HistogramCells


def samples(registry: CollectorRegistry) -> list[tuple[str, list[tuple[str, str]], float]]:
    return sorted(
        (s.name, sorted(s.labels.items()), s.value)
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    )


def test_histogram_cells_match_prometheus_client_for_the_same_observations() -> None:
    ours, reference = CollectorRegistry(), CollectorRegistry()
    cells = HistogramCells("req_seconds", "doc", ("route",), DEFAULT_BUCKETS)

    class Collector:
        def collect(self):  # type: ignore[no-untyped-def]
            yield cells.collect()

    ours.register(Collector())
    theirs = Histogram("req_seconds", "doc", ["route"], buckets=DEFAULT_BUCKETS, registry=reference)
    rng = random.Random(7)
    # include exact bucket boundaries: le is inclusive
    values = [rng.expovariate(4) for _ in range(2000)] + list(DEFAULT_BUCKETS) + [0.0, 120.0]
    for i, value in enumerate(values):
        route = ("/a", "/b/{id}")[i % 2]
        cells.observe((route,), value)
        theirs.labels(route).observe(value)
    ours_samples = samples(ours)
    theirs_samples = samples(reference)
    assert [(n, lb) for n, lb, _ in ours_samples] == [(n, lb) for n, lb, _ in theirs_samples]
    for (name, labels, mine), (_, _, expected) in zip(ours_samples, theirs_samples, strict=True):
        assert mine == pytest.approx(expected), (name, labels)


def test_gauge_and_counter_cells_match_prometheus_client() -> None:
    ours, reference = CollectorRegistry(), CollectorRegistry()
    gauge = GaugeCells("inflight", "doc", ("method",))
    counter = CounterCells("errors_total", "doc", ("kind",))

    class Collector:
        def collect(self):  # type: ignore[no-untyped-def]
            yield gauge.collect()
            yield counter.collect()

    ours.register(Collector())
    their_gauge = Gauge("inflight", "doc", ["method"], registry=reference)
    their_counter = Counter("errors", "doc", ["kind"], registry=reference)
    for _ in range(5):
        gauge.inc(("GET",))
        their_gauge.labels("GET").inc()
    gauge.dec(("GET",))
    their_gauge.labels("GET").dec()
    counter.inc(("io",), 2.5)
    their_counter.labels("io").inc(2.5)
    assert samples(ours) == samples(reference)


def test_concurrent_observations_from_threads_are_not_lost() -> None:
    cells = HistogramCells("x_seconds", "doc", ("k",), (0.1, 1.0))

    def hammer() -> None:
        for _ in range(20_000):
            cells.observe(("k",), 0.5)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    family = cells.collect()
    count = next(s.value for s in family.samples if s.name == "x_seconds_count")
    assert count == 80_000


def test_metrics_for_returns_the_same_metrics_for_one_registry() -> None:
    registry = CollectorRegistry()
    assert metrics_for(registry) is metrics_for(registry)
    assert metrics_for(registry) is not metrics_for(CollectorRegistry())


def test_metrics_for_refuses_other_buckets_on_the_same_registry_with_a_clear_message() -> None:
    registry = CollectorRegistry()
    metrics_for(registry)
    with pytest.raises(ConfigError, match="already registered on this registry with buckets"):
        metrics_for(registry, buckets=(0.1, 1.0))


def test_a_name_clash_with_another_collector_is_reported_at_registration() -> None:
    registry = CollectorRegistry()
    Histogram("http_server_request_duration_seconds", "someone else's", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        metrics_for(registry)


def test_exposition_has_help_type_and_build_info() -> None:
    registry = CollectorRegistry()
    metrics_for(registry)
    text = generate_latest(registry).decode()
    assert "# TYPE http_server_request_duration_seconds histogram" in text
    assert "# TYPE http_server_exceptions_total counter" in text
    assert 'exporter_build_info{version="' in text
