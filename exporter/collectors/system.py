"""Host CPU, memory, disk and network usage from psutil, read at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import psutil
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter.metrics import Counter

logger = logging.getLogger(__name__)

COLLECTOR = "system"


class SystemCollector:
    """``system_*`` metrics (DESIGN §3). ``source`` is the psutil module, or a stand-in in tests.

    Each group (CPU, memory, each mount point, network) is read separately: one that fails
    (``OSError``, an unmounted path, a sandbox without /proc) is left out of that scrape and
    counted in ``exporter_collector_errors_total{collector="system"}``.
    """

    def __init__(
        self,
        errors: Counter,
        mountpoints: Sequence[str] = ("/",),
        source: ModuleType | Any = psutil,
    ) -> None:
        self._errors = errors
        self._mountpoints = tuple(mountpoints)
        self._ps = source

    def collect(self) -> Iterator[Metric]:
        for part in (self._cpu, self._memory, self._disk, self._network):
            try:
                families = list(part())
            except Exception as exc:  # one group failing must not fail the scrape
                self._failed(part.__name__, exc)
                continue
            yield from families

    def _failed(self, what: str, exc: Exception) -> None:
        self._errors.inc((COLLECTOR,))
        logger.debug("system collector: %s failed: %s", what.lstrip("_"), exc)

    def _cpu(self) -> Iterator[Metric]:
        times = self._ps.cpu_times()
        cpu = CounterMetricFamily(
            "system_cpu_seconds",
            "Host CPU time by mode, summed over all CPUs.",
            labels=("mode",),
        )
        for mode in times._fields:
            cpu.add_metric((mode,), float(getattr(times, mode)))
        yield cpu
        count = self._ps.cpu_count(logical=True)
        if count:
            # not "system_cpu_count": promtool reserves the _count suffix for histograms
            yield GaugeMetricFamily(
                "system_cpu_logical_cpus", "Logical CPUs of the host.", value=count
            )

    def _memory(self) -> Iterator[Metric]:
        mem = self._ps.virtual_memory()
        yield GaugeMetricFamily(
            "system_memory_total_bytes", "Host physical memory.", value=float(mem.total)
        )
        yield GaugeMetricFamily(
            "system_memory_available_bytes",
            "Host memory available to start new applications without swapping.",
            value=float(mem.available),
        )

    def _disk(self) -> Iterator[Metric]:
        total = GaugeMetricFamily(
            "system_disk_total_bytes", "Size of the filesystem.", labels=("mountpoint",)
        )
        free = GaugeMetricFamily(
            "system_disk_free_bytes",
            "Free space on the filesystem for unprivileged users.",
            labels=("mountpoint",),
        )
        for mountpoint in self._mountpoints:
            try:
                usage = self._ps.disk_usage(mountpoint)
            except Exception as exc:
                self._failed(f"disk {mountpoint}", exc)
                continue
            total.add_metric((mountpoint,), float(usage.total))
            free.add_metric((mountpoint,), float(usage.free))
        yield total
        yield free

    def _network(self) -> Iterator[Metric]:
        counters = self._ps.net_io_counters(pernic=True)
        received = CounterMetricFamily(
            "system_network_receive_bytes",
            "Bytes received by the network device.",
            labels=("device",),
        )
        sent = CounterMetricFamily(
            "system_network_transmit_bytes",
            "Bytes sent by the network device.",
            labels=("device",),
        )
        for device, io in sorted(counters.items()):
            received.add_metric((device,), float(io.bytes_recv))
            sent.add_metric((device,), float(io.bytes_sent))
        yield received
        yield sent
