"""``python -m exporter``: the same as the ``exporter`` command."""

from exporter.cli import main

raise SystemExit(main())
