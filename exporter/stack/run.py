"""``make run``: the demo under load, scraped by a real Prometheus, with a live summary.

Starts (each on 127.0.0.1, in a fresh temporary directory) the demo API under uvicorn, the
blackbox exporter probing its health endpoint, Alertmanager with the webhook receiver
(:mod:`exporter.stack.alerting`), a real Prometheus scraping them all with the project's rules
(prometheus/rules/*.yml, configuration rendered from prometheus/prometheus.local.yml.tmpl), and
the load generator; then prints every few seconds a summary computed from Prometheus' HTTP API,
the alerts Prometheus has firing, and the alerts the receiver's callback got. Ctrl-C (or the end
of ``--duration``) stops everything it started, by PID.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO, TypeVar

from exporter.errors import ExporterError
from exporter.loadgen import MAX_RPS
from exporter.promapi import PrometheusClient, PrometheusError
from exporter.stack.alerting import start_alerting
from exporter.stack.promconfig import local_config, prometheus_dir
from exporter.stack.servers import (
    ManagedProcess,
    ensure_port_free,
    free_port,
    start_blackbox,
    start_prometheus,
    start_python_app,
)

SCRAPE_INTERVAL = "2s"
WINDOW = "30s"  # rate windows: well over 4x the scrape interval

#: flags for this throw-away TSDB (the compose ones are in the README, section prometheus)
RETENTION_FLAGS = ("--storage.tsdb.retention.time=1d", "--storage.tsdb.retention.size=1GB")


def _ms(v: float) -> str:
    return f"{v * 1000:.0f} ms"


def _pct(v: float) -> str:
    return f"{v * 100:.1f} %"


def _rate(v: float) -> str:
    return f"{v:.1f} req/s"


def _quantile(q: float, metric: str) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{job='demo'}}[{WINDOW}])))"


#: live summary: (name, PromQL, formatter)
SUMMARY: list[tuple[str, str, Callable[[float], str]]] = [
    (
        "requests/s",
        f"sum(rate(http_server_request_duration_seconds_count{{job='demo'}}[{WINDOW}]))",
        _rate,
    ),
    ("p50 response", _quantile(0.5, "http_server_request_duration_seconds"), _ms),
    ("p95 response", _quantile(0.95, "http_server_request_duration_seconds"), _ms),
    ("p99 response", _quantile(0.99, "http_server_request_duration_seconds"), _ms),
    ("p95 TTFB", _quantile(0.95, "http_server_time_to_first_byte_seconds"), _ms),
    (
        "error ratio",
        f"sum(rate(http_server_request_duration_seconds_count{{job='demo',status=~'5..'}}[{WINDOW}]))"
        f" / sum(rate(http_server_request_duration_seconds_count{{job='demo'}}[{WINDOW}]))",
        _pct,
    ),
    (
        "CPU",
        f"1 - sum(rate(system_cpu_seconds_total{{job='demo',mode='idle'}}[{WINDOW}]))"
        " / sum(system_cpu_logical_cpus{job='demo'})",
        _pct,
    ),
    (
        "memory",
        "1 - sum(system_memory_available_bytes{job='demo'})"
        " / sum(system_memory_total_bytes{job='demo'})",
        _pct,
    ),
    ("GPU", "avg(gpu_utilization_ratio{job='demo'})", _pct),
    ("probe /health", "max(probe_duration_seconds{job='blackbox'})", _ms),
]


def summary_lines(client: PrometheusClient) -> list[str]:
    """One ``name: value`` per summary entry; ``-`` where Prometheus has no sample yet."""
    lines = []
    for name, expr, fmt in SUMMARY:
        try:
            value = client.value(expr)
        except PrometheusError as exc:
            lines.append(f"{name:>13}: error: {exc}")
            continue
        lines.append(f"{name:>13}: {'-' if value is None else fmt(value)}")
    return lines


def _alert_name(alert: dict[str, object]) -> str:
    labels = alert.get("labels")
    labels = labels if isinstance(labels, dict) else {}
    where = ", ".join(f"{key}={labels[key]}" for key in ("route", "instance") if key in labels)
    severity = labels.get("severity", "?")
    return f"{labels.get('alertname', '?')} ({severity}{', ' + where if where else ''})"


def alert_lines(client: PrometheusClient) -> list[str]:
    """The firing alerts, then the pending ones, as Prometheus' alerts API reports them."""
    try:
        alerts = client.alerts()
    except PrometheusError as exc:
        return [f"{'rules':>13}: error: {exc}"]
    firing = sorted(_alert_name(a) for a in alerts if a.get("state") == "firing")
    pending = sorted(_alert_name(a) for a in alerts if a.get("state") == "pending")
    lines = [f"{'firing':>13}: {firing[0] if firing else 'none'}  (Prometheus' alerts API)"]
    lines += [f"{'':>15}{name}" for name in firing[1:]]
    if pending:
        lines.append(f"{'pending':>13}: {', '.join(pending)}")
    return lines


def _port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


class Stoppable(Protocol):
    def stop(self) -> None: ...


_P = TypeVar("_P", bound=Stoppable)


class Stack:
    """The processes of one ``make run``; ``stop()`` ends them all."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[Stoppable] = []

    def add(self, process: _P) -> _P:
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app-port", type=int, default=8000, help="demo port (0 = any free)")
    parser.add_argument("--prometheus-port", type=int, default=9090, help="0 = any free")
    parser.add_argument("--alertmanager-port", type=int, default=9093, help="0 = any free")
    parser.add_argument("--rps", type=float, default=20.0, help="load: requests per second")
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 = until Ctrl-C")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between summaries")
    parser.add_argument(
        "--gpu",
        choices=["auto", "real", "fake"],
        default="auto",
        help="GPU metrics of the demo: NVML (real), simulated (fake), or real when an NVIDIA "
        "driver is present (auto, the default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def nvidia_driver_present() -> bool:
    """Whether this machine has an NVIDIA driver loaded (its control device exists)."""
    return Path("/dev/nvidiactl").exists()


def _port(value: int, flag: str) -> int:
    if value == 0:
        return free_port()
    if not 0 < value < 65536:
        raise ExporterError(f"{flag}: not a TCP port: {value}")
    return value


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed terminal, ``timeout``, CI cancelling) stop like Ctrl-C.

    The children run in their own sessions, so only this process hears the signal; without
    this, it would die at once and leave them running.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if not 0 < args.rps <= MAX_RPS:
        raise ExporterError(f"--rps must be above 0 and at most {MAX_RPS:g}")
    if not 0 <= args.duration < float("inf"):
        raise ExporterError("--duration must be 0 (until Ctrl-C) or a positive number of seconds")
    if not 0 < args.every < float("inf"):
        raise ExporterError("--every must be a positive number of seconds")
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals()
    app_port = _port(args.app_port, "--app-port")
    prom_port = _port(args.prometheus_port, "--prometheus-port")
    am_port = _port(args.alertmanager_port, "--alertmanager-port")
    for port, name in ((app_port, "demo"), (prom_port, "Prometheus"), (am_port, "Alertmanager")):
        ensure_port_free(port, name)  # before anything starts: nothing to clean up
    workdir = Path(tempfile.mkdtemp(prefix="exporter-stack-"))
    stack = Stack(workdir)
    try:
        out.write(f"working directory: {workdir}\n")
        demo_args = ["exporter", "demo", "--port", str(app_port)]
        fake_gpu = args.gpu == "fake" or (args.gpu == "auto" and not nvidia_driver_present())
        if fake_gpu:
            demo_args.append("--fake-gpu")
        stack.add(start_python_app("demo", demo_args, workdir, app_port))
        gpu = "simulated GPU" if fake_gpu else "GPU through NVML"
        out.write(f"demo API      http://127.0.0.1:{app_port}  (metrics at /metrics, {gpu})\n")
        prometheus_files = prometheus_dir()
        blackbox_port = free_port()
        stack.add(start_blackbox(prometheus_files / "blackbox.yml", workdir, blackbox_port))
        out.write(f"blackbox      http://127.0.0.1:{blackbox_port}  (probes the demo's /health)\n")
        alerting = stack.add(start_alerting(workdir, am_port))
        out.write(f"Alertmanager  {alerting.alertmanager.url}\n")
        out.write(f"webhook       {alerting.webhook_url}  (metrics at /metrics)\n")
        config = workdir / "prometheus.yml"
        config.write_text(
            local_config(
                app_port=app_port,
                prometheus_port=prom_port,
                rules_dir=prometheus_files / "rules",
                scrape_interval=SCRAPE_INTERVAL,
                alertmanager_port=_port_of(alerting.alertmanager.url),
                webhook_port=_port_of(alerting.receiver.url),
                blackbox_port=blackbox_port,
            )
        )
        prometheus = stack.add(start_prometheus(config, workdir, prom_port, RETENTION_FLAGS))
        out.write(f"Prometheus    {prometheus.url}  (rules: {prometheus_files / 'rules'})\n")
        client = PrometheusClient(prometheus.url)
        client.wait_for("up{job='demo'} == 1", timeout=30)
        load_args = ["exporter", "load", "--url", f"http://127.0.0.1:{app_port}"]
        load_args += ["--rps", str(args.rps), "--duration", str(args.duration)]
        load = ManagedProcess("load", [sys.executable, "-m", *load_args], workdir / "load.log")
        stack.add(load.start())
        out.write(f"load          {args.rps:g} req/s (log: {workdir / 'load.log'})\n")
        out.write("Ctrl-C stops everything.\n\n")
        out.flush()
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(args.every)
            stamp = time.strftime("%H:%M:%S")
            out.write(f"--- {stamp} (last {WINDOW}, from Prometheus) ---\n")
            out.write("\n".join(summary_lines(client) + alert_lines(client)) + "\n")
            out.write("\n".join(alerting.log.summary_lines()) + "\n")
            out.flush()
    except KeyboardInterrupt:
        _say(out, "\nstopping...\n")
    except BrokenPipeError:
        raise  # the reader (`| head`) is gone: clean up as usual; the CLI exits quietly
    except BaseException:
        # keep the logs that explain the failure; the error message points into them
        args.keep = True
        raise
    finally:
        stack.stop()
        if args.keep:
            _say(out, f"logs kept in {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    _say(out, "stopped.\n")
    return 0


def _say(out: TextIO, text: str) -> None:
    """Write while stopping, when the reader may have gone: nothing left to tell it then."""
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        pass
