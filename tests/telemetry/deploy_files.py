"""The example alert rules and Grafana dashboard under deploy/, as the tests read them."""

from __future__ import annotations

import json
import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERT_RULES = DEPLOY / "prometheus" / "crypto-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "crypto-service.json"
SERIES_NAME = re.compile(r"\b(?:grpc_server|crypto)_[a-z0-9_]+\b")


def dashboard_queries() -> list[str]:
    """Every panel's PromQL, with Grafana's rate interval made a plain duration."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"].replace("$__rate_interval", "1m")
            for panel in panels for target in panel["targets"]]


def series_in(queries: list[str]) -> set[str]:
    return {name for query in queries for name in SERIES_NAME.findall(query)}
