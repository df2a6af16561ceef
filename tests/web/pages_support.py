"""Shared set-up for the analysis page tests: a signed-in member and a small product.

Pages compute relative to the project's "today", so the events are placed relative to
the real current date (Asia/Shanghai, the default project zone).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.factories import ev, load
from tests.web.conftest import HTML, Console, login
from yunying.accounts.members import add_member
from yunying.analytics.context import ProjectContext

TZ = "Asia/Shanghai"


def today() -> date:
    return datetime.now(ZoneInfo(TZ)).date()


def ago(days: int, hm: str = "10:00") -> str:
    return f"{today() - timedelta(days=days)} {hm}"


def member(console: Console, role: str = "analyst", email: str = "ann@x.io") -> int:
    """A project with ``email`` as a signed-in member of it (on console.client)."""
    pid = console.project()
    console.user(email, role, pid)
    login(console.client, email)
    return pid


def join(console: Console, user_id: int, project_id: int, role: str = "analyst") -> None:
    with console.db() as s:
        add_member(session=s, project_id=project_id, user_id=user_id, role=role)


def seed(console: Console, pid: int) -> None:
    """Six persons over the last 12 days: signup → view → pay with drop-offs, channels."""
    events = []
    for i, user in enumerate(["u1", "u2", "u3", "u4", "u5", "u6"]):
        channel = ["douyin", "seo", "douyin", "app_store", "douyin", "seo"][i]
        events.append(ev(user, "signup", ago(10 - i % 3), project_id=pid, channel=channel))
        if i < 4:
            events.append(ev(user, "view", ago(8 - i % 3, "11:00"), project_id=pid,
                             category="美食" if i % 2 else "旅行"))  # fmt: skip
            events.append(ev(user, "view", ago(2, "12:00"), project_id=pid))
        if i < 2:
            events.append(ev(user, "pay", ago(1, "13:00"), project_id=pid, **{"$revenue": 25}))
    load(
        console.app.state.yunying.store,
        events,
        project_id=pid,
        person_props={"u1": {"name": "Alice", "city": "上海"}, "u2": {"city": "北京"}},
    )


def ctx(pid: int) -> ProjectContext:
    return ProjectContext(project_id=pid, timezone=TZ)


def get(console: Console, path: str, client=None):  # type: ignore[no-untyped-def]
    return (client or console.client).get(path, headers=HTML)


def figures(html: str) -> list[dict]:
    """Every Plotly figure embedded in a page."""
    found = re.findall(r'<script type="application/json" class="plotly-figure"[^>]*>(.*?)</script>',
                       html, re.S)  # fmt: skip
    return [json.loads(x) for x in found]


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)<', html, re.S)
    assert match, f"no element {testid!r}"
    return match.group(1).strip()
