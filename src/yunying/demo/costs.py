"""Daily spend of the demo's paid channels, so the channel page has CAC and ROI to show.

A channel's day costs its cost per signup (``CPA``) times its average signups per day,
with weekend budgets up and ±20 % noise — so the channels that bring the worst-retaining
people (douyin, offline) are also the ones whose CAC looks cheap, which is the story the
channel page should make visible. Organic channels (shares, invites) cost nothing and
get no rows. The same seed gives the same file; importing it twice changes nothing.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from yunying.config import Settings
from yunying.demo.generate import DemoSummary

# CNY per signed-up person the channel brings (app-store ads, ad clicks, KOL notes, SEM,
# street promotion).
CPA = {"app_store": 14.0, "douyin": 9.0, "xiaohongshu": 16.0, "seo": 6.0, "offline": 11.0}
CURRENCY = "CNY"


def demo_costs(summary: DemoSummary) -> list[dict[str, Any]]:
    """Cost rows (date, channel, cost, currency) for every demo day and paid channel."""
    rng = np.random.default_rng(summary.seed + 1)
    days = (summary.date_to - summary.date_from).days + 1
    rows = []
    for i in range(days):
        day = summary.date_from + timedelta(days=i)
        weekend = 1.2 if day.isoweekday() >= 6 else 1.0
        for channel, cpa in CPA.items():
            per_day = summary.by_channel.get(channel, 0) / days
            if per_day <= 0:
                continue
            cost = cpa * per_day * weekend * float(rng.uniform(0.8, 1.2))
            rows.append(
                {"date": day.isoformat(), "channel": channel, "cost": round(cost, 2),
                 "currency": CURRENCY}
            )  # fmt: skip
    return rows


def write_cost_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The rows as a cost CSV in the import format (``yunying channels import-costs``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["date", "channel", "cost", "currency"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def load_demo_costs(settings: Settings, project_id: int, summary: DemoSummary) -> int:
    """Import the demo's costs into the project (idempotent); returns the rows imported.

    Also writes them next to the demo's events as ``<demo file>.costs.csv``.
    """
    from yunying.db.session import make_engine, make_sessionmaker, session_scope
    from yunying.people.channel_costs import import_rows

    rows = demo_costs(summary)
    write_cost_csv(summary.path.with_suffix(".costs.csv"), rows)
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return import_rows(session, project_id, rows).rows
    finally:
        engine.dispose()
