"""Performance reports, trends and bottlenecks computed from Prometheus' HTTP API.

``exporter report`` (exporter/report.py) and the live JSON endpoints (``live.py``) are built
from these pieces: exact counter increases per interval (``counters``), quantiles from bucket
counts (``quantiles``), the report model (``model``, filled by ``analysis``), bottleneck rules
(``bottlenecks``), trend insights (``trends``) and the JSON/CSV/Markdown output (``formats``).
"""
