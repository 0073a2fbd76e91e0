"""The GPU collector reads NVML at scrape time and never fails a scrape.

NVML is faked at the pynvml boundary only (exporter.collectors.fake_nvml: same function names
and error classes as nvidia-ml-py); the real nvidia-ml-py is also exercised, on a machine
without a GPU, where it must fail the way the fake does.
"""

from __future__ import annotations

import os
import sys

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

import exporter
from exporter.collectors import add_collector, fake_nvml
from exporter.collectors.fake_nvml import FakeGpu, FakeNvml
from exporter.collectors.gpu import GpuCollector
from exporter.metrics import metrics_for

GPU0 = {"gpu": "0", "uuid": "GPU-aaaa", "name": "Tesla Fake"}
GPU1 = {"gpu": "1", "uuid": "GPU-bbbb", "name": "Tesla Fake"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def setup(nvml: object, clock: Clock | None = None) -> tuple[CollectorRegistry, GpuCollector]:
    registry = CollectorRegistry()
    metrics = metrics_for(registry)
    collector = GpuCollector(metrics.collector_errors, nvml=nvml, pid=4242, clock=clock or Clock())
    add_collector(registry, metrics, collector)
    return registry, collector


def errors(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("exporter_collector_errors_total", {"collector": "gpu"}) or 0


def gpu_value(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float | None:
    return registry.get_sample_value(name, labels)


def two_gpus() -> FakeNvml:
    return FakeNvml(
        [
            FakeGpu(
                name="Tesla Fake",
                uuid="GPU-aaaa",
                utilization=75,
                memory_utilization=40,
                memory_total=16_000,
                memory_used=4_000,
                temperature=66,
                power_mw=150_500,
                power_limit_mw=250_000,
                processes=[(4242, 1_500), (999, 2_500)],
            ),
            FakeGpu(name="Tesla Fake", uuid="GPU-bbbb", utilization=5, processes=[]),
        ]
    )


def test_reports_every_field_per_gpu_in_base_units() -> None:
    registry, _ = setup(two_gpus())
    assert gpu_value(registry, "gpu_utilization_ratio", GPU0) == 0.75
    assert gpu_value(registry, "gpu_memory_utilization_ratio", GPU0) == 0.40
    assert gpu_value(registry, "gpu_memory_used_bytes", GPU0) == 4_000
    assert gpu_value(registry, "gpu_memory_total_bytes", GPU0) == 16_000
    assert gpu_value(registry, "gpu_temperature_celsius", GPU0) == 66
    assert gpu_value(registry, "gpu_power_usage_watts", GPU0) == 150.5
    assert gpu_value(registry, "gpu_power_limit_watts", GPU0) == 250
    assert gpu_value(registry, "gpu_utilization_ratio", GPU1) == 0.05
    own = {"gpu": "0", "uuid": "GPU-aaaa"}
    assert gpu_value(registry, "process_gpu_memory_bytes", own) == 1_500
    # not on GPU 1 at all: a real zero
    assert gpu_value(registry, "process_gpu_memory_bytes", {"gpu": "1", "uuid": "GPU-bbbb"}) == 0
    assert errors(registry) == 0


@pytest.mark.parametrize(
    "init_error", [fake_nvml.NVMLError_LibraryNotFound, fake_nvml.NVMLError_DriverNotLoaded]
)
def test_no_library_or_driver_gives_no_samples_counts_once_and_retries_later(
    init_error: type[Exception],
) -> None:
    clock = Clock()
    nvml = FakeNvml(init_error=init_error)
    registry, _ = setup(nvml, clock)
    assert gpu_value(registry, "gpu_utilization_ratio", GPU0) is None
    assert errors(registry) == 1
    for _ in range(5):  # scrapes within the retry interval do not retry nor count
        list(registry.collect())
    assert (nvml.init_calls, errors(registry)) == (1, 1)
    clock.now += 301
    nvml.init_error = None  # the driver got loaded
    labels = {"gpu": "0", "uuid": nvml.gpus[0].uuid, "name": nvml.gpus[0].name}
    assert gpu_value(registry, "gpu_temperature_celsius", labels) == 40
    assert (nvml.init_calls, errors(registry)) == (2, 1)


def test_no_gpu_is_counted_and_gives_no_samples() -> None:
    registry, _ = setup(FakeNvml(gpus=[]))
    names = {s.name for f in registry.collect() for s in f.samples}
    assert not any(n.startswith("gpu_") for n in names)
    assert errors(registry) == 1


def test_a_lost_gpu_drops_its_samples_and_the_session_is_restarted_later() -> None:
    clock = Clock()
    nvml = two_gpus()
    registry, _ = setup(nvml, clock)
    assert gpu_value(registry, "gpu_utilization_ratio", GPU1) == 0.05
    nvml.gpus[1].lost = True
    assert gpu_value(registry, "gpu_utilization_ratio", GPU1) is None
    assert errors(registry) >= 1
    assert nvml.shutdown_calls == 1
    nvml.gpus[1].lost = False
    clock.now += 301
    assert gpu_value(registry, "gpu_utilization_ratio", GPU1) == 0.05


def test_unsupported_field_is_missing_counted_once_and_not_asked_again() -> None:
    nvml = two_gpus()
    nvml.gpus[0].unsupported = {"power", "temperature"}
    registry, _ = setup(nvml)
    assert gpu_value(registry, "gpu_power_usage_watts", GPU0) is None
    assert gpu_value(registry, "gpu_temperature_celsius", GPU0) is None
    assert gpu_value(registry, "gpu_power_limit_watts", GPU0) == 250
    assert gpu_value(registry, "gpu_temperature_celsius", GPU1) == 40
    for _ in range(3):
        list(registry.collect())
    assert errors(registry) == 2


def test_process_memory_hidden_by_nvml_is_left_out() -> None:
    nvml = two_gpus()
    nvml.gpus[0].processes = [(4242, None)]
    registry, _ = setup(nvml)
    assert gpu_value(registry, "process_gpu_memory_bytes", {"gpu": "0", "uuid": "GPU-aaaa"}) is None
    assert gpu_value(registry, "gpu_utilization_ratio", GPU0) == 0.75


def test_unexpected_exception_from_the_library_never_escapes() -> None:
    class Exploding(FakeNvml):
        def nvmlDeviceGetCount(self) -> int:
            raise MemoryError("driver bug")

    registry, _ = setup(Exploding())
    names = {s.name for f in registry.collect() for s in f.samples}
    assert not any(n.startswith("gpu_") for n in names)
    assert errors(registry) >= 1


def test_missing_nvml_package_is_counted_once_and_never_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    clock = Clock()
    registry, _ = setup(None, clock)
    list(registry.collect())
    clock.now += 10_000
    list(registry.collect())
    assert errors(registry) == 1


def test_real_nvml_bindings_without_a_gpu_fail_like_the_fake() -> None:
    """On this machine (no NVIDIA driver) real nvidia-ml-py raises at init, as faked."""
    pynvml = pytest.importorskip("pynvml")
    if os.path.exists("/dev/nvidiactl"):
        pytest.skip("a real GPU driver is present; covered by the device check script")
    with pytest.raises(pynvml.NVMLError) as caught:
        pynvml.nvmlInit()
    assert type(caught.value).__name__ in {
        "NVMLError_LibraryNotFound",
        "NVMLError_DriverNotLoaded",
    }
    assert hasattr(fake_nvml, type(caught.value).__name__)
    registry, _ = setup(pynvml)
    assert errors(registry) == 1


def test_scrape_answers_200_when_the_gpu_collector_fails() -> None:
    registry = CollectorRegistry()
    app = Starlette()
    exporter.instrument(app, registry=registry, system_metrics=False)
    metrics = metrics_for(registry)
    add_collector(registry, metrics, GpuCollector(metrics.collector_errors, FakeNvml(gpus=[])))
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert 'exporter_collector_errors_total{collector="gpu"}' in response.text
    assert "http_server_request_duration_seconds" in response.text
