"""``make run`` (``exporter stack``): the rules are loaded and the live summary shows alerts."""

from __future__ import annotations

import io
import re
import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from exporter.cli import build_parser
from exporter.errors import ExporterError
from exporter.stack import run as stack


def test_make_run_loads_the_rules_probes_the_demo_and_shows_firing_alerts() -> None:
    args = build_parser("stack").parse_args(
        ["stack", "--app-port", "0", "--prometheus-port", "0", "--duration", "12", "--every", "4"]
    )
    out = io.StringIO()
    assert stack.run(args, out) == 0
    text = out.getvalue()
    assert "rules: " in text
    assert "blackbox" in text
    summaries = text.split("--- ")[1:]
    assert summaries, text
    last = summaries[-1]
    assert re.search(r"firing: Watchdog \(none\)", last), last
    assert re.search(r"probe /health: \d+ ms", last), last
    assert text.rstrip().endswith("stopped.")


def test_a_busy_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    """Another server on the port would answer the readiness poll for ours: refuse it first."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        argv = ["--app-port", "0", "--prometheus-port", port, "--alertmanager-port", "0"]
        args = build_parser("stack").parse_args(["stack", *argv, "--duration", "5"])
        before = set(Path(tempfile.gettempdir()).glob("exporter-stack-*"))
        with pytest.raises(ExporterError) as caught:
            stack.run(args, io.StringIO())
    assert str(caught.value) == (
        f"Prometheus: cannot listen on 127.0.0.1:{port}: Address already in use (is another "
        "server running there?); choose another port (0 = any free port)"
    )
    assert set(Path(tempfile.gettempdir()).glob("exporter-stack-*")) == before


def test_a_reader_that_goes_away_stops_the_stack_and_cleans_up() -> None:
    """`exporter stack | head`: no traceback, every process stopped, no directory left."""
    command = [sys.executable, "-m", "exporter", "stack", "--app-port", "0"]
    command += ["--prometheus-port", "0", "--alertmanager-port", "0", "--every", "1"]
    command += ["--duration", "60"]
    done = subprocess.run(
        f"{shlex.join(command)} | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("working directory: ")
    assert "Traceback" not in done.stderr, done.stderr
    workdir = Path(lines[0].removeprefix("working directory: "))
    assert not workdir.exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(workdir) not in ps.stdout
