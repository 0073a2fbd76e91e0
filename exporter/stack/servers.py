"""Start, wait for and stop the real servers of the stack as child processes.

Used by ``exporter stack`` (``make run``) and by the tests: Prometheus, Alertmanager, the
blackbox exporter (Debian packages) and the demo under uvicorn, each on 127.0.0.1 with a port
picked free, a fresh data directory, bounded readiness polling that notices a child that died,
and a stop by its own PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from exporter.errors import ExporterError
from exporter.listen import ensure_can_listen

#: binary -> Debian package that provides it
DEBIAN_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
}


class ServerError(ExporterError):
    """A server could not be found, started, or did not become ready."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_port_free(port: int, name: str) -> None:
    """Fail with one line when something already listens on 127.0.0.1:``port``.

    Checked before starting a server: otherwise its readiness poll may be answered by whatever
    holds the port (another ``make run``, a system Prometheus) while ours dies on the bind,
    and the stack would report someone else's numbers as its own.
    """
    try:
        ensure_can_listen("127.0.0.1", port)
    except ExporterError as exc:
        raise ServerError(f"{name}: {exc}; choose another port (0 = any free port)") from None


def find_binary(name: str) -> str:
    """Absolute path of ``name`` on PATH, or a one-line error saying what to install."""
    path = shutil.which(name)
    if path is None:
        package = DEBIAN_PACKAGES.get(name, name)
        raise ServerError(
            f"{name} not found; install it with: apt-get install -y {package} "
            "(make run / make test do this for you)"
        )
    return path


class ManagedProcess:
    """A child process with a log file, readiness polling and a clean stop."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError(f"{self.name} is not started")
        return self.proc.pid

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the children
            )
        except OSError as exc:
            raise ServerError(f"cannot start {self.name}: {exc.strerror}") from None
        finally:
            log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` every 0.1 s until true; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                raise ServerError(
                    f"{self.name} exited with code {code} before {what}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        raise ServerError(f"{self.name} not {what} after {timeout:.0f}s; log {self.log_path}")

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        self.wait_until(lambda: http_ok(url), timeout, f"answering {url}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM by PID, then SIGKILL after ``timeout``; idempotent."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            proc.wait(5)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the open response
        return False
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_prometheus(
    config_file: Path, workdir: Path, port: int | None = None, extra_args: Sequence[str] = ()
) -> ManagedProcess:
    """A real Prometheus on 127.0.0.1 with a fresh TSDB under ``workdir``; waits for ready."""
    port = port or free_port()
    ensure_port_free(port, "Prometheus")
    data = workdir / "prometheus-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.use-lockfile",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        *extra_args,
    ]
    server = ManagedProcess("prometheus", argv, workdir / "prometheus.log").start()
    server.url = f"http://127.0.0.1:{port}"
    server.wait_http(server.url + "/-/ready")
    return server


def start_alertmanager(
    config_file: Path, workdir: Path, port: int | None = None, extra_args: Sequence[str] = ()
) -> ManagedProcess:
    """A real Alertmanager on 127.0.0.1, gossip off, fresh storage; waits for ready."""
    port = port or free_port()
    ensure_port_free(port, "Alertmanager")
    data = workdir / "alertmanager-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("prometheus-alertmanager"),
        f"--config.file={config_file}",
        f"--storage.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        *extra_args,
    ]
    server = ManagedProcess("alertmanager", argv, workdir / "alertmanager.log").start()
    server.url = f"http://127.0.0.1:{port}"
    server.wait_http(server.url + "/-/ready")
    return server


def start_blackbox(config_file: Path, workdir: Path, port: int | None = None) -> ManagedProcess:
    """The blackbox exporter on 127.0.0.1; waits until it answers."""
    port = port or free_port()
    ensure_port_free(port, "the blackbox exporter")
    argv = [
        find_binary("prometheus-blackbox-exporter"),
        f"--config.file={config_file}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    server = ManagedProcess("blackbox", argv, workdir / "blackbox.log").start()
    server.url = f"http://127.0.0.1:{port}"
    server.wait_http(server.url + "/-/healthy")
    return server


def start_python_app(
    name: str,
    module_args: Sequence[str],
    workdir: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/health",
    timeout: float = 30.0,
) -> ManagedProcess:
    """``python -m <module_args>`` (e.g. ``exporter demo --port N``) serving on ``port``."""
    ensure_port_free(port, name)
    merged = dict(os.environ)
    merged.update(env or {})
    argv = [sys.executable, "-m", *module_args]
    server = ManagedProcess(name, argv, workdir / f"{name}.log", env=merged).start()
    server.url = f"http://127.0.0.1:{port}"
    server.wait_http(server.url + ready_path, timeout)
    return server
