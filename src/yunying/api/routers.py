"""The list of routers the app serves (one per domain).

Each entry is imported lazily so a router module can be added without touching app.py.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

_ROUTER_MODULES = [
    "yunying.api.ingest_posthog",
    "yunying.api.ingest_segment",
    "yunying.api.projects",
    "yunying.api.query",
]


def all_routers() -> list[APIRouter]:
    out = []
    for name in _ROUTER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet
                continue
            raise
        out.append(module.router)
    return out
