"""The ``exporter`` command: parses arguments and delegates to the library.

Each subcommand lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``; only the module of the command being run is imported, so a command
whose optional dependencies are missing does not break the others. A user error
(:class:`exporter.errors.ExporterError`) is printed as one line and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from exporter._version import __version__
from exporter.errors import ExporterError

#: command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("exporter.demo", "run the instrumented demo video-processing API"),
    "load": ("exporter.loadgen", "send load to a URL at a fixed rate and print progress"),
    "stack": ("exporter.stack.run", "run the demo under load with Prometheus and a live summary"),
    "rules": ("exporter.rulegen", "check thresholds.yml and generate the Prometheus alert rules"),
    "webhook": ("exporter.webhook", "receive Alertmanager notifications and run alert callbacks"),
    "report": ("exporter.report", "performance report, trends and bottlenecks from Prometheus"),
    "dashboards": (
        "exporter.grafana.generate",
        "generate the Grafana dashboards from thresholds.yml (or --check them)",
    ),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of the ``selected`` command only."""
    parser = argparse.ArgumentParser(
        prog="exporter", description="API performance monitoring for Starlette/FastAPI."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module_name)
        if name == selected:
            importlib.import_module(module_name).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(wanted)
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except ExporterError as exc:
        print(f"exporter {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`exporter report | head`): no traceback, and none at exit
        # when Python flushes stdout again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
