"""Helpers for the dashboard tests: load the committed dashboards, list their queries, substitute
Grafana's variables as Grafana would, and find the metric selectors of a PromQL expression.

The selector scanner is a small tokenizer, not a PromQL parser: it knows strings, label
matchers, range brackets, function calls and the label lists of ``by``/``on``/... clauses, which
is all the lint rules need. The expressions' validity is checked by promtool separately.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
FILES = ("api-performance.json", "resources.json", "slo.json")
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))
    return data


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data (rows excluded), including panels inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str
    instant: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}: {self.expr}"


def queries(name: str) -> list[Query]:
    """Every panel target and annotation query of a dashboard file."""
    dashboard = load(name)
    out = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            instant = bool(target.get("instant")) and not target.get("range")
            out.append(Query(name, panel["title"], target["refId"], target["expr"], instant))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            out.append(
                Query(name, f"annotation {annotation['name']}", "-", annotation["expr"], True)
            )
    return out


# --- variables --------------------------------------------------------------------------------

_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|{}\[\]]")


def regex_escape(value: str) -> str:
    """A multi-value variable's value as Grafana writes it into a PromQL regex string literal:
    special characters escaped with a backslash that is itself escaped for the string."""
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value)


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``$name``, ``${name}`` and ``[[name]]`` by ``values[name]``; longest names first
    so that ``$__range_s`` is not read as ``$__range`` followed by ``_s``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise KeyError(f"no value for variable {name!r} in {expr!r}")
        return values[name]

    pattern = r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)"
    return re.sub(pattern, one, expr)


# --- PromQL selectors -------------------------------------------------------------------------

_TOKENS = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<braces>\{(?:"(?:\\.|[^"\\])*"|[^}"])*\})
  | (?P<range>\[[^\]]*\])
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<other>[^\s])
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"')
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values",
}  # fmt: skip
_KEYWORDS = _LABEL_LIST_KEYWORDS | {"and", "or", "unless", "bool", "offset", "inf", "nan"}


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)
    range: str | None  # "[...]" contents, or None for an instant vector
    function: str | None  # innermost enclosing function or aggregation

    def has(self, label: str, op: str, value: str) -> bool:
        return (label, op, value) in self.matchers


def selectors(expr: str) -> list[Selector]:
    tokens = [
        (m.lastgroup or "", m.group(0)) for m in _TOKENS.finditer(expr) if m.lastgroup != "space"
    ]
    found = []
    stack: list[str | None] = []  # one entry per open parenthesis: the function it calls
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "ident" and text in _LABEL_LIST_KEYWORDS and nxt[0] == "open":
            depth, i = 0, i + 1  # skip the label list
            while i < len(tokens):
                depth += {"open": 1, "close": -1}.get(tokens[i][0], 0)
                i += 1
                if depth == 0:
                    break
            continue
        if kind == "ident" and text in _AGGREGATIONS and nxt[1] in ("by", "without"):
            j, depth = i + 2, 0  # skip "by (labels)" to the aggregation's own parenthesis
            while j < len(tokens):
                depth += {"open": 1, "close": -1}.get(tokens[j][0], 0)
                j += 1
                if depth == 0:
                    break
            stack.append(text)
            i = j + 1
            continue
        if kind == "ident" and nxt[0] == "open":
            stack.append(text)
            i += 2
            continue
        if kind == "open":
            stack.append(None)
        elif kind == "close":
            stack.pop()
        elif kind == "ident" and text not in _KEYWORDS:
            matchers: tuple[tuple[str, str, str], ...] = ()
            if nxt[0] == "braces":
                matchers = tuple(_MATCHER.findall(nxt[1]))
                i += 1
            rng = None
            if i + 1 < len(tokens) and tokens[i + 1][0] == "range":
                rng = tokens[i + 1][1][1:-1]
                i += 1
            found.append(Selector(text, matchers, rng, stack[-1] if stack else None))
        i += 1
    return found
