"""Console pages: server time per page on the default demo data (50,000 persons, 90 days).

Each page is fetched in-process through the ASGI app (signed in as the first owner), so
the figure is server time without network or browser. Baseline (same run): the analytics
call the page is built on, so the ratio shows what rendering adds. The overview is timed
with its 60 s cache cleared before every run. Targets: every page ≤ 0.5 s, overview ≤ 1 s.

    python bench/bench_pages.py                 # 50,000 persons (first run loads ~4M events)
    python bench/bench_pages.py --persons 5000  # quicker
    python bench/bench_pages.py --only funnels --only paths --no-report
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DATA, log, ratio, table, timed, update_report

from yunying.analytics.common import DateRange, EventSelector
from yunying.analytics.funnels import FunnelQuery, run_funnel
from yunying.analytics.paths import PathsQuery, run_paths
from yunying.analytics.retention import RetentionQuery, run_retention
from yunying.analytics.trends import TrendsQuery, run_trends
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.bootstrap import bootstrap
from yunying.demo import load_demo
from yunying.insights import overview as overview_mod
from yunying.store.base import open_event_store


def demo_end() -> date:
    """Yesterday in the project's zone: the overview always shows the last complete days."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)


END = demo_end()


def prepare(persons: int) -> tuple[Settings, str, str]:
    """A data dir with the demo loaded (cached under bench/.data); owner credentials."""
    settings = Settings(data_dir=DATA / f"pages-{persons}-{END}")
    creds = settings.data_dir / "first-run-credentials.txt"
    if not creds.exists():
        log(f"loading the demo ({persons:,} persons) into {settings.data_dir} …")
        result = bootstrap(settings)
        store = open_event_store(settings)
        try:
            load_demo(
                settings, store, project_id=result.project_id, persons=persons, end=END,
                progress=False,
            )  # fmt: skip
        finally:
            store.close()
    text = creds.read_text()
    email = re.search(r"console_email=(\S+)", text)
    password = re.search(r"console_password=(\S+)", text)
    if not (email and password):
        raise SystemExit(f"{creds} has no console credentials; delete {settings.data_dir}")
    return settings, email.group(1), password.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="time only pages whose name starts with this (repeatable)",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    args = parser.parse_args()
    settings, email, password = prepare(args.persons)
    start, end = END - timedelta(days=29), END
    span = f"date_from={start}&date_to={end}"
    with TestClient(create_app(settings)) as client:
        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        client.post(
            "/login",
            data={
                "email": email,
                "password": password,
                "csrf_token": token.group(1) if token else "",
            },
            follow_redirects=False,
        )
        state = client.app.state.yunying  # type: ignore[attr-defined]
        store = state.store
        with state.sessions() as session:
            from yunying.db.models import Project
            from yunying.db.projects import context_for

            ctx = context_for(session.get(Project, 1))
        dates = DateRange(date_from=start, date_to=end)

        def page(path: str):  # type: ignore[no-untyped-def]
            def get() -> None:
                r = client.get(path)
                if r.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {r.status_code}")

            return get

        def overview_page() -> None:
            overview_mod._cache.clear()  # time the real work, not the 60 s cache
            page("/p/1/overview?range=30")()

        steps = ("signup", "content_view", "comment_created")
        cases = [
            (
                "overview (30 days, cache cleared)",
                overview_page,
                lambda: overview_mod.overview(
                    store, ctx, date_from=start, date_to=end, today=END + timedelta(days=1)
                ),
            ),
            (
                "trends",
                page(f"/p/1/insights/trends?event=content_view&{span}"),
                lambda: run_trends(
                    store,
                    ctx,
                    TrendsQuery(series=[EventSelector(event="content_view")], date_range=dates),
                ),
            ),
            (
                "retention",
                page(
                    f"/p/1/insights/retention?start_event=signup&return_event=content_view&{span}"
                ),
                lambda: run_retention(
                    store,
                    ctx,
                    RetentionQuery(
                        start_event=EventSelector(event="signup"),
                        return_event=EventSelector(event="content_view"),
                        date_range=dates,
                    ),
                ),
            ),
            (
                "funnels",
                page("/p/1/insights/funnels?" + "".join(f"step={e}&" for e in steps) + span),
                lambda: run_funnel(
                    store,
                    ctx,
                    FunnelQuery(steps=[EventSelector(event=e) for e in steps], date_range=dates),
                ),
            ),
            (
                "paths",
                page(f"/p/1/insights/paths?start_event=signup&{span}"),
                lambda: run_paths(
                    store,
                    ctx,
                    PathsQuery(start_event=EventSelector(event="signup"), date_range=dates),
                ),
            ),
            ("lifecycle", page(f"/p/1/insights/lifecycle?event=content_view&{span}"), None),
            ("stickiness", page(f"/p/1/insights/stickiness?event=content_view&{span}"), None),
            ("people", page("/p/1/people"), None),
            ("events (latest)", page("/p/1/events"), None),
            ("event definitions", page("/p/1/events/definitions"), None),
            ("dashboards", page("/p/1/dashboards"), None),
            # user operations (issue 4): computed live from the events on every request
            ("segments", page("/p/1/segments"), None),
            ("segment builder", page("/p/1/segments/new"), None),
            ("layers", page("/p/1/layers"), None),
            ("churn", page("/p/1/churn"), None),
            ("channels", page("/p/1/channels"), None),
        ]
        rows = []
        for name, fetch, baseline in cases:
            if args.only and not any(name.startswith(o) for o in args.only):
                continue
            t_page, _ = timed(fetch, repeat=args.repeat)
            target = 1.0 if name.startswith("overview") else 0.5
            if baseline is not None:
                t_base, _ = timed(baseline, repeat=args.repeat)
                base, rel = f"{t_base.median * 1000:.0f}", ratio(t_page.median, t_base.median)
            else:
                base, rel = "—", "—"
            ok = "yes" if t_page.median <= target else "NO"
            rows.append(
                [name, f"{t_page.median * 1000:.0f}", base, rel, f"{target * 1000:.0f}", ok]
            )
            log(f"{name}: {t_page.median * 1000:.0f} ms (baseline {base} ms)")
    n_events = store_events(settings)
    body = (
        f"Demo product, {args.persons:,} persons, 90 days ending {END} ({n_events:,} events), "
        f"DuckDB. Server time per page, in-process ASGI client signed in as the owner; median "
        f"of {args.repeat} after one warm-up. Baseline: the analytics call the page shows, "
        f"same data and range.\n\n"
        + table(rows, ["page", "page ms", "analytics ms", "page/analytics", "target ms", "met"])
        + f"\n\nCommand: `python bench/bench_pages.py --persons {args.persons}`\n"
    )
    print(body)
    if not args.no_report and not args.only:
        update_report("pages", "Console pages (server time)", body)


def store_events(settings: Settings) -> int:
    store = open_event_store(settings, read_only=True)
    try:
        return int(store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py())
    finally:
        store.close()


if __name__ == "__main__":
    main()
