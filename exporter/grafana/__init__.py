"""Grafana dashboards as code: the three dashboards of ``grafana/dashboards/``.

Each dashboard module builds one dashboard with Grafana's Foundation SDK; ``generate`` writes
them as JSON (``exporter dashboards``) and checks the committed files for drift. The threshold
colours come from ``prometheus/thresholds.yml``, so the dashboards are regenerated whenever it
changes.
"""

from __future__ import annotations

#: dashboard uids: fixed, so links and bookmarks survive re-provisioning
API_UID = "api-perf-api"
RESOURCES_UID = "api-perf-resources"
SLO_UID = "api-perf-slo"

#: every generated dashboard carries this tag; the dashboards link to each other through it
TAG = "api-perf-exporter"
