"""The fast /metrics renderer writes the same samples as prometheus_client would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter import Settings
from exporter.exposition import MetricsRenderer
from exporter.metrics import metrics_for

Samples = list[tuple[str, tuple[tuple[str, str], ...], float]]

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def samples_of(families: object) -> Samples:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), float(s.value))
        for family in families  # type: ignore[attr-defined]
        for s in family.samples
        # process_* and python_* move between two renders; they are not ours to check
        if not s.name.endswith("_created") and not s.name.startswith(("process_", "python_"))
    )


def populated_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = metrics_for(registry)
    tricky = ["/q/{id}", 'with "quotes"', "back\\slash", "new\nline", "ünïcode"]
    for i, route in enumerate(tricky * 3):
        status = ("200", "404", "500")[i % 3]
        metrics.requests.started(("GET",))
        metrics.requests.finished(("GET",), ("GET", route, status), 0.001 * (i + 1) ** 2, 0.002)
    metrics.operation_duration.observe(("job", "success"), 7.5)
    metrics.requests.started(("POST",))  # one still in flight
    return registry


@pytest.mark.parametrize(
    ("accept", "parse", "reference"),
    [(None, parse_text, generate_latest), (OPENMETRICS, parse_om, openmetrics_latest)],
)
def test_fast_output_has_the_samples_prometheus_client_writes(
    accept: str | None, parse: object, reference: object
) -> None:
    registry = populated_registry()
    renderer = MetricsRenderer(registry, Settings(system_metrics=False, gpu_metrics=False))
    fast = renderer.render("GET", accept, None, None).body.decode()
    slow = reference(registry).decode()  # type: ignore[operator]
    assert samples_of(parse(fast)) == samples_of(parse(slow))  # type: ignore[operator]
    assert fast.count("# TYPE http_server_request_duration_seconds histogram") == 1
    if accept:
        assert fast.endswith("# EOF\n")
        assert fast.count("# EOF") == 1


def test_other_readers_of_the_registry_still_see_the_histograms() -> None:
    registry = populated_registry()
    renderer = MetricsRenderer(registry, Settings(system_metrics=False, gpu_metrics=False))
    renderer.render("GET", None, None, None)
    labels = {"method": "GET", "route": "/q/{id}", "status": "200"}
    assert registry.get_sample_value("http_server_request_duration_seconds_count", labels) == 1
