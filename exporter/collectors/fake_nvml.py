"""A stand-in for the ``pynvml`` module, for machines without an NVIDIA GPU.

It has the real module's function names, constants and error classes (``NVMLError`` and its
``NVMLError_*`` subclasses, selected by code as in nvidia-ml-py), so
:class:`exporter.collectors.gpu.GpuCollector` runs the same code against it as against NVML.
Tests use it to script every failure; ``exporter demo --fake-gpu`` uses it so the GPU panels
and alerts can be tried without a GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

NVML_TEMPERATURE_GPU = 0

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999


class NVMLError(Exception):
    """Base NVML error; ``NVMLError(code)`` returns the subclass for that code, as pynvml does."""

    _by_code: ClassVar[dict[int, type[NVMLError]]] = {}
    value: int

    def __new__(cls, value: int = NVML_ERROR_UNKNOWN) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._by_code.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int = NVML_ERROR_UNKNOWN) -> None:
        super().__init__(value)

    def __str__(self) -> str:
        return f"NVML error {self.value} ({type(self).__name__})"


def _error_class(name: str, code: int) -> type[NVMLError]:
    def new(cls: type[NVMLError], *args: Any) -> NVMLError:
        obj = Exception.__new__(cls)
        obj.value = code
        return obj

    cls = type(name, (NVMLError,), {"__new__": new, "__init__": lambda self, *a: None})
    NVMLError._by_code[code] = cls
    return cls


NVMLError_NotSupported = _error_class("NVMLError_NotSupported", NVML_ERROR_NOT_SUPPORTED)
NVMLError_NoPermission = _error_class("NVMLError_NoPermission", NVML_ERROR_NO_PERMISSION)
NVMLError_DriverNotLoaded = _error_class("NVMLError_DriverNotLoaded", NVML_ERROR_DRIVER_NOT_LOADED)
NVMLError_LibraryNotFound = _error_class("NVMLError_LibraryNotFound", NVML_ERROR_LIBRARY_NOT_FOUND)
NVMLError_GpuIsLost = _error_class("NVMLError_GpuIsLost", NVML_ERROR_GPU_IS_LOST)
NVMLError_Unknown = _error_class("NVMLError_Unknown", NVML_ERROR_UNKNOWN)


@dataclass
class FakeGpu:
    """One simulated device; change its fields at any time to script a scenario."""

    name: str = "NVIDIA Fake T4"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    utilization: float = 0.0  # percent, as NVML reports it
    memory_utilization: float = 0.0  # percent
    memory_total: int = 16 * 1024**3
    memory_used: int = 0
    temperature: int = 40
    power_mw: int = 30_000
    power_limit_mw: int = 70_000
    #: (pid, used bytes or None when NVML hides it)
    processes: list[tuple[int, int | None]] = field(default_factory=list)
    #: field names that raise NVMLError_NotSupported: utilization, memory, temperature,
    #: power, power_limit, processes
    unsupported: set[str] = field(default_factory=set)
    lost: bool = False


class FakeNvml:
    """Object standing in for the ``pynvml`` module (pass it as ``GpuCollector(nvml=...)``)."""

    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_NoPermission = NVMLError_NoPermission
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVMLError_Unknown = NVMLError_Unknown

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        init_error: type[Exception] | None = None,
        before_read: Callable[[FakeGpu], None] | None = None,
    ) -> None:
        self.gpus = [FakeGpu()] if gpus is None else gpus
        self.init_error = init_error
        #: called before each device read, e.g. to move the utilisation with the load
        self.before_read = before_read
        self.init_calls = 0
        self.shutdown_calls = 0
        self.initialized = False
        self._lock = threading.Lock()

    # -- the pynvml functions the collector uses -------------------------------------------
    def nvmlInit(self) -> None:
        with self._lock:
            self.init_calls += 1
            if self.init_error is not None:
                raise self.init_error()
            self.initialized = True

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1
        self.initialized = False

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check_init()
        gpu = self.gpus[index]
        if gpu.lost:
            raise NVMLError_GpuIsLost()
        if self.before_read is not None:
            self.before_read(gpu)
        return gpu

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        return self._live(handle).uuid

    def nvmlDeviceGetName(self, handle: FakeGpu) -> bytes:
        return self._live(handle).name.encode()  # older pynvml returns bytes

    def nvmlDeviceGetUtilizationRates(self, handle: FakeGpu) -> SimpleNamespace:
        gpu = self._read(handle, "utilization")
        return SimpleNamespace(gpu=gpu.utilization, memory=gpu.memory_utilization)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu) -> SimpleNamespace:
        gpu = self._read(handle, "memory")
        free = gpu.memory_total - gpu.memory_used
        return SimpleNamespace(total=gpu.memory_total, used=gpu.memory_used, free=free)

    def nvmlDeviceGetTemperature(self, handle: FakeGpu, sensor: int) -> int:
        if sensor != NVML_TEMPERATURE_GPU:
            raise NVMLError(2)
        return self._read(handle, "temperature").temperature

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:
        return self._read(handle, "power").power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeGpu) -> int:
        return self._read(handle, "power_limit").power_limit_mw

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeGpu) -> list[SimpleNamespace]:
        gpu = self._read(handle, "processes")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: FakeGpu) -> list[SimpleNamespace]:
        self._read(handle, "processes")
        return []

    # -- helpers ---------------------------------------------------------------------------
    def _check_init(self) -> None:
        if not self.initialized:
            raise NVMLError(1)  # NVML_ERROR_UNINITIALIZED

    def _live(self, gpu: FakeGpu) -> FakeGpu:
        self._check_init()
        if gpu.lost:
            raise NVMLError_GpuIsLost()
        return gpu

    def _read(self, gpu: FakeGpu, what: str) -> FakeGpu:
        self._live(gpu)
        if what in gpu.unsupported:
            raise NVMLError_NotSupported()
        return gpu
