"""The person page's figure and badges, built from a ``people.profile.Profile``."""

from __future__ import annotations

from yunying.people.profile import Profile
from yunying.web.charts import Figure, Translate, layout
from yunying.web.i18n import catalog

MAX_EVENT_BARS = 15
RISK_LEVELS = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))


def event_counts_figure(profile: Profile, t: Translate) -> Figure:
    """The person's most frequent events as horizontal bars (most frequent on top)."""
    shown = profile.event_counts[:MAX_EVENT_BARS][::-1]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": t("people.event_counts"),
                "x": [c.count for c in shown],
                "y": [c.event for c in shown],
                "hovertemplate": "%{y}: %{x:,d}<extra></extra>",
            }
        ],
        "layout": layout(
            hovermode="closest",
            showlegend=False,
            height=max(160, 28 * len(shown) + 60),
            margin={"l": 140, "r": 16, "t": 8, "b": 32},
        ),
    }


def risk_level(risk: float | None) -> str | None:
    """high / medium / low for a churn-risk probability (the badge's colour)."""
    if risk is None:
        return None
    return next(level for floor, level in RISK_LEVELS if risk >= floor)


def catalog_keys() -> frozenset[str]:
    """Catalog keys, so a derived value without a translation (a layer or RFM group a job
    added later) is shown as it is instead of as a key."""
    return frozenset(catalog("en"))
