"""The package's error hierarchy: user mistakes become one-line messages, never tracebacks."""

from __future__ import annotations


class ExporterError(Exception):
    """Base class for errors caused by user input (configuration, arguments, files).

    The CLI prints ``str(error)`` on one line and exits 1; libraries may catch it to
    report the problem their own way.
    """


class ConfigError(ExporterError):
    """A setting, configuration file or thresholds file is invalid."""
