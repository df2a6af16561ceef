"""A minimal valid spec for every registered metric (shared by CLI and API tests).

A metric added to the registry without an entry here fails ``test_every_kind_has_a_spec``,
so the query surface is always tested for every kind.
"""

from __future__ import annotations

from typing import Any

MINIMAL_SPECS: dict[str, dict[str, Any]] = {
    "trends": {"series": [{"event": "pageview"}]},
    "active_users": {},
    "retention": {"start_event": {"event": "pageview"}},
    "funnel": {"steps": [{"event": "pageview"}, {"event": "signup"}]},
    "paths": {"start_event": {"event": "pageview"}},
    "lifecycle": {"event": "pageview"},
    "stickiness": {"event": "pageview"},
    "aarrr": {},
}

DATE_RANGE = {"date_from": "2024-01-01", "date_to": "2024-01-14"}


def spec_for(kind: str) -> dict[str, Any]:
    """The minimal spec with a fixed date range (where the metric takes one)."""
    from yunying.analytics.registry import load_metric

    model, _ = load_metric(kind)
    spec = {"kind": kind, **MINIMAL_SPECS[kind]}
    if "date_range" in model.model_fields:
        spec["date_range"] = DATE_RANGE
    return spec


def sample_events(project_id: int = 1) -> list:
    """A few persons doing pageview → signup over the two weeks of DATE_RANGE."""
    from tests.factories import ev

    out = []
    for i, did in enumerate(["a", "b", "c", "d"]):
        for day in range(1, 12, 2 + i % 2):
            out.append(ev(did, "pageview", f"2024-01-{day:02d} 10:00", project_id=project_id))
        if i < 2:
            out.append(ev(did, "signup", f"2024-01-0{3 + i} 11:00", project_id=project_id))
    return out
