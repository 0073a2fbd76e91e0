"""GPU usage from NVML (nvidia-ml-py / pynvml), read at scrape time; optional, never crashes.

No library, no driver, no GPU, a GPU that fell off the bus, or a field this GPU does not
support: the affected samples are missing from the scrape and
``exporter_collector_errors_total{collector="gpu"}`` counts the failure. To keep a CPU-only host
quiet, initialisation is retried at most every ``retry_seconds`` (never when the library is not
installed at all), and a field NVML reports as not supported is counted once and not asked again.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from exporter.metrics import Counter

logger = logging.getLogger(__name__)

COLLECTOR = "gpu"
_GPU_LABELS = ("gpu", "uuid", "name")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class GpuCollector:
    """``gpu_*`` and ``process_gpu_memory_bytes`` (DESIGN §3) for every GPU NVML sees.

    ``nvml`` is the pynvml module (imported on first scrape when not given); tests and the
    demo's ``--fake-gpu`` mode pass :class:`exporter.collectors.fake_nvml.FakeNvml` instead.
    """

    def __init__(
        self,
        errors: Counter,
        nvml: Any = None,
        *,
        retry_seconds: float = 300.0,
        pid: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._errors = errors
        self._nvml = nvml
        self._retry_seconds = retry_seconds
        self._pid = os.getpid() if pid is None else pid
        self._clock = clock
        self._lock = threading.Lock()
        self._ready = False
        self._gave_up = False  # the library is not installed: nothing will change that
        self._next_attempt = 0.0
        self._unsupported: set[tuple[int, str]] = set()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            try:
                families = self._collect()
            except Exception as exc:  # the scrape must answer whatever NVML does
                self._failed("collect", exc)
                families = []
        yield from families

    def _failed(self, what: str, exc: BaseException) -> None:
        self._errors.inc((COLLECTOR,))
        logger.debug("gpu collector: %s failed: %s", what, exc)

    def _init(self) -> bool:
        if self._ready:
            return True
        if self._gave_up or self._clock() < self._next_attempt:
            return False
        self._next_attempt = self._clock() + self._retry_seconds
        if self._nvml is None:
            try:
                self._nvml = importlib.import_module("pynvml")
            except ImportError as exc:
                self._gave_up = True
                self._failed("import pynvml (install the 'gpu' extra)", exc)
                return False
        try:
            self._nvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            self._failed("nvmlInit", exc)
            return False
        self._ready = True
        return True

    def _collect(self) -> list[Metric]:
        if not self._init():
            return []
        nv = self._nvml
        try:
            count = int(nv.nvmlDeviceGetCount())
        except Exception as exc:
            self._reset(exc)
            return []
        if count == 0:
            self._reset(RuntimeError("NVML sees no GPU"))
            return []
        fam = _Families()
        for index in range(count):
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(index)
                labels = (
                    str(index),
                    _text(nv.nvmlDeviceGetUUID(handle)),
                    _text(nv.nvmlDeviceGetName(handle)),
                )
            except Exception as exc:
                if _is(nv, exc, "NVMLError_GpuIsLost"):
                    self._reset(exc)
                else:
                    self._failed(f"GPU {index}", exc)
                continue
            self._device(nv, index, handle, labels, fam)
        return fam.all()

    def _reset(self, exc: BaseException) -> None:
        """Forget the session so the next attempt (after ``retry_seconds``) starts over."""
        self._failed("device enumeration", exc)
        self._ready = False
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()

    def _field(self, nv: Any, index: int, field: str, read: Callable[[], Any]) -> Any:
        if (index, field) in self._unsupported:
            return None
        try:
            return read()
        except Exception as exc:
            if _is(nv, exc, "NVMLError_NotSupported"):
                self._unsupported.add((index, field))
            self._failed(f"GPU {index} {field}", exc)
            return None

    def _device(
        self, nv: Any, index: int, handle: Any, labels: tuple[str, str, str], fam: _Families
    ) -> None:
        util = self._field(
            nv, index, "utilization", lambda: nv.nvmlDeviceGetUtilizationRates(handle)
        )
        if util is not None:
            fam.utilization.add_metric(labels, float(util.gpu) / 100.0)
            fam.memory_utilization.add_metric(labels, float(util.memory) / 100.0)
        mem = self._field(nv, index, "memory", lambda: nv.nvmlDeviceGetMemoryInfo(handle))
        if mem is not None:
            fam.memory_used.add_metric(labels, float(mem.used))
            fam.memory_total.add_metric(labels, float(mem.total))
        temp = self._field(
            nv,
            index,
            "temperature",
            lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU),
        )
        if temp is not None:
            fam.temperature.add_metric(labels, float(temp))
        power = self._field(nv, index, "power", lambda: nv.nvmlDeviceGetPowerUsage(handle))
        if power is not None:
            fam.power.add_metric(labels, float(power) / 1000.0)  # mW -> W
        limit = self._field(
            nv, index, "power_limit", lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle)
        )
        if limit is not None:
            fam.power_limit.add_metric(labels, float(limit) / 1000.0)
        used = self._field(nv, index, "processes", lambda: self._own_memory(nv, handle))
        if used is not None:
            fam.process_memory.add_metric(labels[:2], float(used))

    def _own_memory(self, nv: Any, handle: Any) -> float | None:
        total = 0.0
        hidden = False
        seen: set[int] = set()
        for list_processes in (
            nv.nvmlDeviceGetComputeRunningProcesses,
            nv.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            for proc in list_processes(handle):
                # a process using both compute and graphics is listed twice, same memory
                if proc.pid != self._pid or proc.pid in seen:
                    continue
                seen.add(proc.pid)
                if proc.usedGpuMemory is None:  # NVML hides it (no permission, some vGPUs)
                    hidden = True
                else:
                    total += float(proc.usedGpuMemory)
        # not on the GPU at all is a real zero; a hidden figure leaves the sample out
        return None if hidden else total


def _is(nv: Any, exc: BaseException, name: str) -> bool:
    cls = getattr(nv, name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


class _Families:
    def __init__(self) -> None:
        def gauge(name: str, doc: str, labels: tuple[str, ...] = _GPU_LABELS) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        self.utilization = gauge(
            "gpu_utilization_ratio", "Fraction of time a kernel ran on the GPU (0..1)."
        )
        self.memory_utilization = gauge(
            "gpu_memory_utilization_ratio",
            "Fraction of time GPU memory was read or written (0..1).",
        )
        self.memory_used = gauge("gpu_memory_used_bytes", "GPU memory in use.")
        self.memory_total = gauge("gpu_memory_total_bytes", "GPU memory installed.")
        self.temperature = gauge("gpu_temperature_celsius", "GPU core temperature.")
        self.power = gauge("gpu_power_usage_watts", "GPU power draw.")
        self.power_limit = gauge("gpu_power_limit_watts", "GPU enforced power limit.")
        self.process_memory = gauge(
            "process_gpu_memory_bytes",
            "GPU memory used by this process, as NVML reports it.",
            ("gpu", "uuid"),
        )

    def all(self) -> list[Metric]:
        return [
            self.utilization,
            self.memory_utilization,
            self.memory_used,
            self.memory_total,
            self.temperature,
            self.power,
            self.power_limit,
            self.process_memory,
        ]
