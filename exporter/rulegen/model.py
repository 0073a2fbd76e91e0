"""The shapes of generated Prometheus rule files: files of groups of rules, each with a comment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """A recording rule (``record``) or an alerting rule (``alert``), with a one-line comment."""

    comment: str
    expr: str
    record: str | None = None
    alert: str | None = None
    for_: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    route: str | None = None  # not written: the one route this rule is limited to, if any


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class RuleFile:
    """One ``prometheus/rules/<name>`` file; ``about`` is its header comment."""

    name: str
    about: str
    groups: tuple[Group, ...]

    def alerts(self) -> list[Rule]:
        return [r for g in self.groups for r in g.rules if r.alert]
