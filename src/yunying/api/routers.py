"""The list of routers the app serves (one per domain).

Each entry is imported by name so a router module is added here without touching app.py.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

_ROUTER_MODULES = [
    "yunying.api.ingest_posthog",
    "yunying.api.ingest_segment",
    "yunying.api.projects",
    "yunying.api.query",
    "yunying.api.segments",
    "yunying.api.layers",
    "yunying.api.channels",
    "yunying.api.people",
    "yunying.api.churn",
]


def all_routers() -> list[APIRouter]:
    return [importlib.import_module(name).router for name in _ROUTER_MODULES]
