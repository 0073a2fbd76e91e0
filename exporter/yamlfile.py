"""Reading the project's YAML files with one-line errors that name the file and the place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from exporter.errors import ConfigError


def read_yaml(path: str | Path) -> Any:
    """The parsed document of ``path``; unreadable or invalid YAML is a one-line ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_problem(exc)}") from None


def _problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)
