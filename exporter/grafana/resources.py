"""The "Resources" dashboard: host CPU, memory, disk and network, the process, and the GPUs.

Host metrics (``system_*``) and GPU metrics (``gpu_*``) are collected by the exporter inside the
service at scrape time, so they are per instance of the service; ``process_*`` are this
process's own, from prometheus_client.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from exporter.grafana import RESOURCES_UID
from exporter.grafana import promql as q
from exporter.grafana.panels import (
    Target,
    dashboard,
    neutral,
    rising,
    row,
    stat_panel,
    timeseries_panel,
)
from exporter.thresholds import Thresholds

TITLE = "API performance: resources"


def cpu_utilisation(by: str) -> str:
    """Share of CPU time not idle, from the host's CPU seconds summed over its CPUs."""
    idle = q.rate_sum("system_cpu_seconds_total", 'mode="idle"', by=[by])
    return f"1 - {idle} / sum by ({by}) ({q.selector('system_cpu_logical_cpus')})"


def memory_utilisation(by: str) -> str:
    available = f"sum by ({by}) ({q.selector('system_memory_available_bytes')})"
    total = f"sum by ({by}) ({q.selector('system_memory_total_bytes')})"
    return f"1 - {available} / {total}"


# guest time is already counted in user and nice
BUSY_CPU = q.rate_sum("system_cpu_seconds_total", 'mode!~"idle|guest.*"', by=["instance", "mode"])


GPU_LEGEND = "{{instance}} GPU {{gpu}} {{name}}"


def build(t: Thresholds) -> Dashboard:
    d = dashboard(
        TITLE,
        RESOURCES_UID,
        "Host, process and GPU usage of the instances running the instrumented API, with the "
        "cpu, memory and gpu levels of prometheus/thresholds.yml.",
    )

    d = d.with_row(row("Overview"))
    d = d.with_panel(
        stat_panel(
            "Host CPU",
            "Busiest selected host: share of CPU time not idle. Coloured by the cpu levels of "
            "thresholds.yml.",
            "percentunit",
            Target(f"max({cpu_utilisation('instance')})"),
            rising(t.cpu),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Host memory",
            "Fullest selected host: share of memory not available. Coloured by the memory "
            "levels of thresholds.yml.",
            "percentunit",
            Target(f"max({memory_utilisation('instance')})"),
            rising(t.memory),
        )
    )
    d = d.with_panel(
        stat_panel(
            "GPU utilisation",
            "Busiest GPU of the selected instances. Coloured by the gpu level of "
            "thresholds.yml; no data on hosts without an NVIDIA GPU.",
            "percentunit",
            Target(f"max({q.selector('gpu_utilization_ratio')})"),
            rising(t.gpu),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Disk used",
            "Fullest configured mount point of the selected hosts. thresholds.yml sets no "
            "level for disks.",
            "percentunit",
            Target(
                f"max(1 - {q.selector('system_disk_free_bytes')} / "
                f"{q.selector('system_disk_total_bytes')})"
            ),
            neutral(),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Process CPU",
            "CPU used by the service processes, summed (100 % = one core busy).",
            "percentunit",
            Target(q.rate_sum("process_cpu_seconds_total")),
            neutral(),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Process memory (RSS)",
            "Resident memory of the service processes, summed.",
            "bytes",
            Target(f"sum({q.selector('process_resident_memory_bytes')})"),
            neutral(),
        )
    )

    d = d.with_row(row("Host"))
    d = d.with_panel(
        timeseries_panel(
            "CPU utilisation",
            "Share of CPU time not idle per host; the dashed lines are the cpu levels of "
            "thresholds.yml.",
            "percentunit",
            [Target(cpu_utilisation("instance"), "{{instance}}")],
            steps=rising(t.cpu),
            minimum=0,
            maximum=1,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "CPU by mode",
            "CPU time per mode as a share of all CPUs (guest time is already inside user and "
            "nice, so it is left out).",
            "percentunit",
            [
                Target(
                    f"{BUSY_CPU} / on (instance) group_left "
                    f"sum by (instance) ({q.selector('system_cpu_logical_cpus')})",
                    "{{instance}} {{mode}}",
                )
            ],
            stacked=True,
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Memory utilisation",
            "Share of host memory not available per host; the dashed lines are the memory "
            "levels of thresholds.yml.",
            "percentunit",
            [Target(memory_utilisation("instance"), "{{instance}}")],
            steps=rising(t.memory),
            minimum=0,
            maximum=1,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Memory",
            "Host memory available and total per host.",
            "bytes",
            [
                Target(
                    f"sum by (instance) ({q.selector('system_memory_available_bytes')})",
                    "{{instance}} available",
                ),
                Target(
                    f"sum by (instance) ({q.selector('system_memory_total_bytes')})",
                    "{{instance}} total",
                ),
            ],
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Disk used",
            "Share of each configured mount point in use.",
            "percentunit",
            [
                Target(
                    f"1 - {q.selector('system_disk_free_bytes')} / "
                    f"{q.selector('system_disk_total_bytes')}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            minimum=0,
            maximum=1,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Network",
            "Bytes received and sent per second per network device (loopback left out).",
            "Bps",
            [
                Target(
                    q.rate_sum(
                        "system_network_receive_bytes_total",
                        'device!="lo"',
                        by=["instance", "device"],
                    ),
                    "{{instance}} {{device}} received",
                ),
                Target(
                    q.rate_sum(
                        "system_network_transmit_bytes_total",
                        'device!="lo"',
                        by=["instance", "device"],
                    ),
                    "{{instance}} {{device}} sent",
                ),
            ],
        )
    )

    d = d.with_row(row("Process"))
    d = d.with_panel(
        timeseries_panel(
            "Process CPU",
            "CPU used by each service process (100 % = one core busy).",
            "percentunit",
            [Target(q.rate_sum("process_cpu_seconds_total", by=["instance"]), "{{instance}}")],
            width=8,
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Process memory",
            "Resident (RSS) and virtual memory of each service process.",
            "bytes",
            [
                Target(
                    f"sum by (instance) ({q.selector('process_resident_memory_bytes')})",
                    "{{instance}} RSS",
                ),
                Target(
                    f"sum by (instance) ({q.selector('process_virtual_memory_bytes')})",
                    "{{instance}} virtual",
                ),
            ],
            width=8,
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Open file descriptors",
            "File descriptors (sockets included) open in each service process, and its limit.",
            "short",
            [
                Target(
                    f"sum by (instance) ({q.selector('process_open_fds')})", "{{instance}} open"
                ),
                Target(
                    f"sum by (instance) ({q.selector('process_max_fds')})", "{{instance}} limit"
                ),
            ],
            width=8,
            minimum=0,
        )
    )

    d = d.with_row(row("GPU"))
    d = d.with_panel(
        timeseries_panel(
            "GPU utilisation",
            "Share of time a kernel was running, per GPU; the dashed line is the gpu level of "
            "thresholds.yml.",
            "percentunit",
            [Target(q.selector("gpu_utilization_ratio"), GPU_LEGEND)],
            steps=rising(t.gpu),
            width=8,
            minimum=0,
            maximum=1,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "GPU memory",
            "Memory used and total per GPU.",
            "bytes",
            [
                Target(q.selector("gpu_memory_used_bytes"), f"{GPU_LEGEND} used"),
                Target(q.selector("gpu_memory_total_bytes"), f"{GPU_LEGEND} total"),
            ],
            width=8,
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "GPU memory bandwidth utilisation",
            "Share of time GPU memory was being read or written, per GPU.",
            "percentunit",
            [Target(q.selector("gpu_memory_utilization_ratio"), GPU_LEGEND)],
            width=8,
            minimum=0,
            maximum=1,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "GPU temperature",
            "Core temperature per GPU.",
            "celsius",
            [Target(q.selector("gpu_temperature_celsius"), GPU_LEGEND)],
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "GPU power",
            "Power draw and enforced power limit per GPU.",
            "watt",
            [
                Target(q.selector("gpu_power_usage_watts"), f"{GPU_LEGEND} draw"),
                Target(q.selector("gpu_power_limit_watts"), f"{GPU_LEGEND} limit"),
            ],
            width=8,
            minimum=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "GPU memory of this process",
            "GPU memory held by the service process itself, per GPU (when NVML reports it).",
            "bytes",
            [Target(q.selector("process_gpu_memory_bytes"), "{{instance}} GPU {{gpu}}")],
            width=8,
            minimum=0,
        )
    )
    return d
