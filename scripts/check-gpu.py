"""Run the GPU collector against the real NVML of this machine and print what it reports.

For a machine with an NVIDIA GPU and driver (the tests can only fake NVML):

    .venv/bin/python scripts/check-gpu.py

It prints every gpu_* / process_gpu_memory_bytes sample, the collector's error count, and
the same readings taken straight from pynvml, so the two can be compared by eye; it exits 1
when the collector reported nothing or counted an error.
"""

from __future__ import annotations

import sys

from prometheus_client import CollectorRegistry

from exporter.collectors import add_collector
from exporter.collectors.gpu import GpuCollector
from exporter.metrics import metrics_for


def main() -> int:
    import pynvml

    registry = CollectorRegistry()
    metrics = metrics_for(registry)
    add_collector(registry, metrics, GpuCollector(metrics.collector_errors, nvml=pynvml))
    samples = [
        s
        for family in registry.collect()
        for s in family.samples
        if s.name.startswith(("gpu_", "process_gpu_")) or s.name.startswith("exporter_collector")
    ]
    for s in samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
    errors = sum(s.value for s in samples if s.name == "exporter_collector_errors_total")
    gpu_samples = [s for s in samples if s.name.startswith("gpu_")]
    print("--- straight from pynvml ---")
    try:
        pynvml.nvmlInit()
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            util = pynvml.nvmlDeviceGetUtilizationRates(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            print(
                f"gpu {i}: {pynvml.nvmlDeviceGetName(h)} util {util.gpu}% mem {mem.used}/"
                f"{mem.total} B temp "
                f"{pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)} C"
            )
    except pynvml.NVMLError as exc:
        print(f"pynvml: {type(exc).__name__}: {exc}")
    print(f"--- {len(gpu_samples)} gpu samples, {errors:g} collector errors ---")
    return 0 if gpu_samples and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
