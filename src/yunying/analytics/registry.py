"""Every metric the query API and CLI can run: kind → (query model, run function).

Imports are lazy so that one metric's import cost (or a half-built module) never blocks
the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_METRICS: dict[str, tuple[str, str, str]] = {
    "trends": ("yunying.analytics.trends", "TrendsQuery", "run_trends"),
    "active_users": ("yunying.analytics.active_users", "ActiveUsersQuery", "run_active_users"),
    "retention": ("yunying.analytics.retention", "RetentionQuery", "run_retention"),
    "funnel": ("yunying.analytics.funnels", "FunnelQuery", "run_funnel"),
    "paths": ("yunying.analytics.paths", "PathsQuery", "run_paths"),
    "lifecycle": ("yunying.analytics.lifecycle", "LifecycleQuery", "run_lifecycle"),
    "stickiness": ("yunying.analytics.stickiness", "StickinessQuery", "run_stickiness"),
    "aarrr": ("yunying.analytics.aarrr", "AarrrQuery", "run_aarrr"),
}


def metric_kinds() -> list[str]:
    return list(_METRICS)


def load_metric(kind: str) -> tuple[type[Any], Any]:
    """(QueryModel, run_function) for ``kind``; KeyError for an unknown kind."""
    module_name, query_name, run_name = _METRICS[kind]
    module = importlib.import_module(module_name)
    return getattr(module, query_name), getattr(module, run_name)
