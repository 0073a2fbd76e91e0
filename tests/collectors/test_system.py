"""The system collector reports host usage and survives every failing source."""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace
from typing import Any

import psutil
from prometheus_client import CollectorRegistry

from exporter.collectors import add_collector
from exporter.collectors.system import SystemCollector
from exporter.metrics import metrics_for

CpuTimes = namedtuple("CpuTimes", "user system idle iowait")
Io = namedtuple("Io", "bytes_sent bytes_recv")


class FakePsutil:
    """A psutil stand-in with fixed readings; set ``broken`` to make a group raise."""

    def __init__(self, broken: set[str] | None = None) -> None:
        self.broken = broken or set()

    def _check(self, what: str) -> None:
        if what in self.broken:
            raise OSError(f"{what} unavailable")

    def cpu_times(self) -> Any:
        self._check("cpu")
        return CpuTimes(100.0, 50.0, 1000.0, 5.0)

    def cpu_count(self, logical: bool = True) -> int:
        return 4

    def virtual_memory(self) -> Any:
        self._check("memory")
        return SimpleNamespace(total=8_000, available=3_000)

    def disk_usage(self, path: str) -> Any:
        self._check(f"disk:{path}")
        return SimpleNamespace(total=1_000_000, free=250_000)

    def net_io_counters(self, pernic: bool = False) -> dict[str, Any]:
        self._check("network")
        return {"eth0": Io(bytes_sent=10, bytes_recv=20), "lo": Io(bytes_sent=1, bytes_recv=1)}


def collect(source: Any, mountpoints: tuple[str, ...] = ("/",)) -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = metrics_for(registry)
    errors = metrics.collector_errors
    add_collector(registry, metrics, SystemCollector(errors, mountpoints, source=source))
    return registry


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one collection, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_reports_cpu_memory_disk_and_network() -> None:
    registry = collect(FakePsutil(), mountpoints=("/", "/data"))
    assert value(registry, "system_cpu_seconds_total", mode="idle") == 1000.0
    assert value(registry, "system_cpu_seconds_total", mode="iowait") == 5.0
    assert value(registry, "system_cpu_logical_cpus") == 4
    assert value(registry, "system_memory_total_bytes") == 8_000
    assert value(registry, "system_memory_available_bytes") == 3_000
    assert value(registry, "system_disk_free_bytes", mountpoint="/data") == 250_000
    assert value(registry, "system_network_receive_bytes_total", device="eth0") == 20
    assert value(registry, "system_network_transmit_bytes_total", device="eth0") == 10
    assert value(registry, "exporter_collector_errors_total", collector="system") is None


def test_a_failing_group_is_left_out_and_counted_while_the_rest_is_reported() -> None:
    registry = collect(FakePsutil(broken={"memory", "disk:/gone"}), mountpoints=("/", "/gone"))
    first = scrape(registry)
    assert ("system_memory_total_bytes", ()) not in first
    assert ("system_disk_total_bytes", (("mountpoint", "/gone"),)) not in first
    assert first[("system_disk_total_bytes", (("mountpoint", "/"),))] == 1_000_000
    assert first[("system_cpu_logical_cpus", ())] == 4
    # a scrape shows the failures it met; every scrape meets them again
    assert first[("exporter_collector_errors_total", (("collector", "system"),))] == 2
    second = scrape(registry)
    assert second[("exporter_collector_errors_total", (("collector", "system"),))] == 4


def test_every_group_failing_still_yields_a_scrape() -> None:
    broken = {"cpu", "memory", "disk:/", "network"}
    registry = collect(FakePsutil(broken=broken))
    names = {s.name for family in registry.collect() for s in family.samples}
    assert not any(n.startswith("system_") for n in names)
    assert "exporter_build_info" in names


def test_real_psutil_readings_are_plausible() -> None:
    registry = collect(psutil)
    total = value(registry, "system_memory_total_bytes")
    available = value(registry, "system_memory_available_bytes")
    assert total is not None
    assert available is not None
    assert 0 < available <= total
    assert value(registry, "system_cpu_logical_cpus") == psutil.cpu_count()
    free = value(registry, "system_disk_free_bytes", mountpoint="/")
    size = value(registry, "system_disk_total_bytes", mountpoint="/")
    assert free is not None
    assert size is not None
    assert 0 <= free <= size
