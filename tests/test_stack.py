"""``make run`` (``exporter stack``): the rules are loaded and the live summary shows alerts."""

from __future__ import annotations

import io
import re

from exporter.cli import build_parser
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
