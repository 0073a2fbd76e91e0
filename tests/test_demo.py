"""The demo API: its endpoints, run-time chaos knobs, and the simulated GPU."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from exporter.demo import Chaos, create_app


def client_for(registry: CollectorRegistry, **chaos: float) -> TestClient:
    app = create_app(
        Chaos(**{"latency_ms": 1.0, "error_rate": 0.0, **chaos}), registry=registry, seed=1
    )
    return TestClient(app)


def test_video_endpoints_process_fetch_and_stream(registry: CollectorRegistry) -> None:
    client = client_for(registry)
    done = client.post("/video/process", json={"video_id": "cat", "resolution": "1080p"})
    assert done.status_code == 200
    assert done.json()["resolution"] == "1080p"
    assert client.get("/video/cat").json()["status"] == "done"
    assert client.get("/video/dog").status_code == 404
    assert client.get("/video/cat/stream?chunks=3").text.count("chunk") == 3
    assert client.post("/video/process/batch", json={"count": 4}).json() == {
        "processed": 4,
        "failed": 0,
    }
    assert client.get("/health").json() == {"status": "ok"}
    ops = {
        s.labels["operation"]
        for f in registry.collect()
        for s in f.samples
        if s.name == "operation_duration_seconds_count"
    }
    assert ops == {"video.decode", "video.transcode"}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"resolution": "8k"}, 422, "resolution must be 480p, 720p, 1080p or 2160p"),
        ("not json", 400, "body is not JSON"),
        ([1, 2], 400, "body must be a JSON object"),
    ],
)
def test_bad_processing_requests_get_a_clear_4xx(
    registry: CollectorRegistry, body: object, status: int, detail: str
) -> None:
    client = client_for(registry)
    if isinstance(body, str):
        response = client.post("/video/process", content=body)
    else:
        response = client.post("/video/process", json=body)
    assert response.status_code == status
    assert response.json()["detail"] == detail


def test_injected_errors_are_unhandled_500s_counted_by_exception(
    registry: CollectorRegistry,
) -> None:
    client = TestClient(
        create_app(Chaos(latency_ms=1, error_rate=1.0), registry=registry),
        raise_server_exceptions=False,
    )
    assert client.post("/video/process", json={}).status_code == 500
    labels = {"method": "POST", "route": "/video/process", "exception": "ProcessingFailed"}
    assert registry.get_sample_value("http_server_exceptions_total", labels) == 1


def test_chaos_can_be_changed_at_run_time_and_is_validated(registry: CollectorRegistry) -> None:
    client = client_for(registry)
    changed = client.put("/demo/config", json={"latency_ms": 250, "error_rate": 0.5})
    assert changed.status_code == 200
    assert changed.json()["latency_ms"] == 250
    assert client.get("/demo/config").json()["error_rate"] == 0.5
    unknown = client.put("/demo/config", json={"latency": 1})
    assert (unknown.status_code, unknown.json()["detail"]) == (422, "unknown setting 'latency'")
    # nothing was applied by the rejected requests
    for rejected in ('{"error_rate": 3}', '{"jitter": "lots"}', '{"latency_ms": 1e309}'):
        assert client.put("/demo/config", content=rejected).status_code == 422
    assert client.get("/demo/config").json() == changed.json()


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"error_rate": 3}, 422, "error_rate: must be between 0 and 1, got 3.0"),
        ({"jitter": "lots"}, 422, 'jitter: must be a number, got "lots"'),
        ({"error_rate": True}, 422, "error_rate: must be a number, got true"),
        ({"slow_rate": None}, 422, "slow_rate: must be a number, got null"),
        ('{"latency_ms": NaN}', 422, "latency_ms: must be between 0 and 600000, got nan"),
        ('{"latency_ms": Infinity}', 422, "latency_ms: must be between 0 and 600000, got inf"),
        ({"slow_factor": 5000}, 422, "slow_factor: must be between 1 and 1000, got 5000.0"),
        (
            {"latency_ms": 500_000, "slow_rate": 0.5},
            422,
            "slow_factor: latency_ms x (1 + jitter) x slow_factor would be 7.5e+06 ms, "
            "more than 600000 ms",
        ),
        ("[" * 100_000 + "]" * 100_000, 400, "body is not JSON"),
        ("{", 400, "body is not JSON"),
    ],
)
def test_bad_chaos_settings_are_refused_with_the_setting_named(
    registry: CollectorRegistry, body: object, status: int, detail: str
) -> None:
    client = client_for(registry)
    before = client.get("/demo/config").json()
    if isinstance(body, str):
        response = client.put("/demo/config", content=body)
    else:
        response = client.put("/demo/config", json=body)
    assert (response.status_code, response.json()["detail"]) == (status, detail)
    assert client.get("/demo/config").json() == before


def test_fake_gpu_exposes_gpu_metrics_and_no_nvml_errors(registry: CollectorRegistry) -> None:
    app = create_app(Chaos(latency_ms=1, error_rate=0), fake_gpu=True, registry=registry)
    text = TestClient(app).get("/metrics").text
    for name in (
        "gpu_utilization_ratio",
        "gpu_memory_used_bytes",
        "gpu_temperature_celsius",
        "gpu_power_usage_watts",
        "process_gpu_memory_bytes",
    ):
        assert f"\n{name}{{" in text, name
    assert 'exporter_collector_errors_total{collector="gpu"}' not in text
