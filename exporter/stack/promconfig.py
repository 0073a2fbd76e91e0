"""The Prometheus configuration of ``make run`` and the tests, from a template in prometheus/.

``prometheus/prometheus.local.yml.tmpl`` is the compose ``prometheus.yml`` with every target on
127.0.0.1 and ports filled in. ``${name}`` is replaced by its value; the lines between
``# --- if name`` and ``# --- end`` are kept only when ``name`` has a value, so a run without
Alertmanager (or webhook receiver, or blackbox exporter) gets no section pointing at it.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from exporter.errors import ExporterError

#: the repository's prometheus/ folder (rules, thresholds, templates)
PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "prometheus"
LOCAL_TEMPLATE = "prometheus.local.yml.tmpl"

_IF = re.compile(r"^\s*# --- if (\w+)\s*$")
_END = re.compile(r"^\s*# --- end\s*$")


def prometheus_dir() -> Path:
    """prometheus/ of the checkout the package runs from, or a one-line error."""
    if not (PROMETHEUS_DIR / "rules").is_dir():
        raise ExporterError(
            f"{PROMETHEUS_DIR} not found: make run needs the repository's prometheus/ folder "
            "(run it from a checkout, installed with pip install -e .)"
        )
    return PROMETHEUS_DIR


def render(template: str, values: dict[str, object], source: str = "a template") -> str:
    """Keep or drop the ``# --- if`` blocks, then substitute ``${name}``.

    The template's leading comment (which explains the placeholders) becomes one line
    naming ``source``.
    """
    lines = template.splitlines()
    while lines and lines[0].startswith("#") and not _IF.match(lines[0]):
        lines.pop(0)
    kept: list[str] = [f"# Rendered from {source} for this run only."]
    condition: str | None = None
    for number, line in enumerate(lines, start=1):
        start, end = _IF.match(line), _END.match(line)
        if start:
            if condition is not None:
                raise ValueError(f"template line {number}: nested '# --- if'")
            condition = start.group(1)
            continue
        if end:
            if condition is None:
                raise ValueError(f"template line {number}: '# --- end' without '# --- if'")
            condition = None
            continue
        if condition is None or values.get(condition) is not None:
            kept.append(line)
    if condition is not None:
        raise ValueError(f"template: '# --- if {condition}' is never closed")
    present = {k: str(v) for k, v in values.items() if v is not None}
    return Template("\n".join(kept) + "\n").substitute(present)


def local_config(
    *,
    app_port: int,
    prometheus_port: int,
    rules_dir: Path,
    scrape_interval: str = "2s",
    alertmanager_port: int | None = None,
    webhook_port: int | None = None,
    blackbox_port: int | None = None,
    template: Path | None = None,
) -> str:
    """prometheus.yml for a stack on 127.0.0.1 (demo job ``demo``, rules from ``rules_dir``)."""
    path = template or prometheus_dir() / LOCAL_TEMPLATE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExporterError(f"{path}: cannot read: {exc.strerror}") from None
    if '"' in str(rules_dir) or "\n" in str(rules_dir):
        raise ExporterError(f"rules folder with a quote or newline in its name: {rules_dir}")
    return render(
        text,
        {
            "scrape_interval": scrape_interval,
            "app_port": app_port,
            "prometheus_port": prometheus_port,
            "rules_dir": rules_dir,
            "alertmanager_port": alertmanager_port,
            "webhook_port": webhook_port,
            "blackbox_port": blackbox_port,
        },
        path.name,
    )
