"""The package version, read by hatchling at build time and by ``exporter_build_info``."""

__version__ = "0.1.0"
