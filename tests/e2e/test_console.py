"""The console in a real browser, on demo data: what a person clicking through would see.

Why these and not more: each test is a promise a unit test cannot keep — forms that build
the right query, charts that actually render under the CSP, a role or project boundary
that holds in the rendered HTML, a language choice that survives a reload. Numbers shown
by the forms are compared with the HTTP API's answer to the same question.
Screenshots land in ``test-artifacts/screenshots/`` (see conftest).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import (
    SECRET_DAYS,
    SECRET_EVENT,
    SECRET_PERSON,
    E2EWorld,
    Tab,
    shown_text,
)

if TYPE_CHECKING:  # imported lazily by the fixtures, so a missing Playwright is a skip
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

Console = Callable[..., Tab]


def assert_not_error_page(page: Page) -> None:
    assert page.locator("[data-testid=error-page]").count() == 0, f"{page.url} is an error page"


def assert_chart(page: Page, scope: str = "body") -> None:
    """At least one Plotly chart was drawn (an SVG inside .js-plotly-plot)."""
    charts = page.locator(f"{scope} .js-plotly-plot")
    assert charts.count() >= 1, f"{page.url}: no chart in {scope}"
    assert page.locator(f"{scope} .js-plotly-plot .main-svg").count() >= 1


def table_rows(page: Page, testid: str) -> int:
    """Data rows of a table (an 'empty' placeholder row has a single cell spanning all)."""
    return page.locator(f"[data-testid={testid}] tbody tr").evaluate_all(
        "rows => rows.filter((r) => r.cells.length > 1).length"
    )


def number(text: str) -> int:
    return int(text.strip().replace(",", ""))


def trend_total(page: Page) -> int:
    """The 'total' column of the first series in a trends result table."""
    row = page.locator("[data-testid=result-table] tbody tr").first
    return number(row.locator("td").nth(1).inner_text())


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def run_form(tab: Tab, button: str = "[data-testid=run]") -> None:
    """Submit the insight form (a GET) and wait for the new page to render."""
    with tab.page.expect_navigation(wait_until="load"):
        tab.page.click(button)
    tab.settle()


def gap_below(page: Page, upper: str, lower: str) -> float:
    """Pixels between the bottom of ``upper`` and the top of ``lower``."""
    a, b = page.locator(upper).first.bounding_box(), page.locator(lower).first.bounding_box()
    assert a and b, f"{page.url}: {upper} or {lower} not laid out"
    return b["y"] - (a["y"] + a["height"])


def assert_numeric_date_ticks(page: Page, scope: str) -> None:
    """Date axes read the same in both languages: "10-24", never "Oct 24"."""
    ticks = page.locator(f"{scope} .xtick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks, f"{page.url}: no x ticks in {scope}"
    assert all(re.fullmatch(r"(\d{4}-)?\d\d-\d\d", x) for x in ticks), ticks


def assert_labels_apart(page: Page, scope: str = "body") -> None:
    """No two Sankey node labels overlap (nor sit in another step's column)."""
    boxes = page.locator(f"{scope} .sankey-node .node-label").evaluate_all(
        "els => els.filter(e => e.textContent).map(e => {"
        " const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    assert boxes, f"{page.url}: no Sankey labels"
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"{page.url}: Sankey labels overlap: {a} {b}"


def custom_range(page: Page, date_from: date, date_to: date) -> None:
    page.select_option("#f-range", "custom")
    page.fill("#f-date_from", date_from.isoformat())
    page.fill("#f-date_to", date_to.isoformat())


# ---- sign-in ------------------------------------------------------------------------------


def test_sign_in(console: Console, e2e: E2EWorld) -> None:
    tab = console(None)
    page = tab.page
    tab.goto(f"/p/{e2e.project_id}/overview")  # redirected to the sign-in form
    assert "/login" in page.url
    assert page.locator("[data-testid=login-page]").is_visible()
    assert page.inner_text("[data-testid=first-run-hint] code") == "yunying init"
    assert "`" not in page.inner_text("[data-testid=first-run-hint]")
    tab.shot("login")

    tab.allowed[tab.url("/login")] = 401
    page.fill("#email", e2e.owner.email)
    page.fill("#password", "not the password")
    with page.expect_navigation(wait_until="load") as nav:
        page.click("[data-testid=login-submit]")
    assert nav.value is not None and nav.value.status == 401
    tab.settle()
    assert page.locator("[data-testid=error-message]").is_visible()
    assert page.input_value("#email") == e2e.owner.email  # kept, so only the password is retyped
    assert not any(c["name"] == "yy_session" for c in page.context.cookies())
    tab.shot("wrong-password")

    page.fill("#password", e2e.owner.password)
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=login-submit]")
    tab.settle()
    assert page.url == tab.url(f"/p/{e2e.project_id}/overview")
    assert_not_error_page(page)
    assert page.locator("[data-testid=nav-overview][aria-current=page]").is_visible()
    assert page.locator("[data-testid=aarrr]").is_visible()
    tab.shot("overview")


# ---- every page on demo data ------------------------------------------------------------


def _content(kind: str, target: str = "") -> Callable[[Page], None]:
    """A check that the page shows something real: a chart, a table with rows, or a selector."""

    def check(page: Page) -> None:
        if kind == "chart":
            assert_chart(page)
        elif kind == "table":
            assert table_rows(page, target) > 0, f"{page.url}: table {target} has no rows"
        else:
            assert page.locator(target).first.is_visible(), f"{page.url}: {target} not shown"

    return check


def _overview(page: Page) -> None:
    assert_chart(page, "[data-testid=active-users]")
    assert_chart(page, "[data-testid=channels]")
    new = page.locator("[data-testid=overview-new_persons-value]").get_attribute("data-value")
    assert new and float(new) > 0, "overview shows no new persons on the demo"
    assert page.locator("[data-testid=overview-empty]").count() == 0
    assert table_rows(page, "channel-table") > 0
    assert_numeric_date_ticks(page, "[data-testid=active-users]")
    assert (
        gap_below(page, "[data-testid=active-users] .grid-4", "[data-testid=active-users] > .card")
        >= 12
    )


def _paths(page: Page) -> None:
    assert_labels_apart(page, "[data-testid=result]")
    # One column per step: every node of a step sits at the same x.
    xs = page.locator("[data-testid=result] .sankey-node .node-rect").evaluate_all(
        "els => els.map(e => Math.round(e.getBoundingClientRect().left))"
    )
    assert len(set(xs)) >= 2, xs


def _events(page: Page) -> None:
    cell = page.locator("[data-testid=events-table] td.time").first
    assert cell.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
    lines = cell.evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }"
    )
    assert lines == 1, "the time cell wraps"


def _members(page: Page) -> None:
    owner = page.locator(
        "[data-testid^=member-row-]", has=page.locator("[data-testid^=last-owner-]")
    )
    assert owner.count() == 1, "the only owner is not marked"
    assert owner.locator("[data-testid^=remove-]").count() == 0


def _both(*checks: Callable[[Page], None]) -> Callable[[Page], None]:
    def check(page: Page) -> None:
        for c in checks:
            c(page)

    return check


PAGES: list[tuple[str, str, Callable[[Page], None]]] = [
    ("overview", "overview", _overview),
    ("trends", "insights/trends", _both(_content("chart"), _content("table", "result-table"))),
    ("retention", "insights/retention", _content("table", "retention-table")),
    ("funnels", "insights/funnels", _content("sel", "[data-testid=insight-form] #f-step-1")),
    (
        "paths",
        "insights/paths",
        _both(_content("chart"), _content("table", "result-table"), _paths),
    ),
    (
        "lifecycle",
        "insights/lifecycle",
        _both(_content("chart"), _content("table", "result-table")),
    ),
    (
        "stickiness",
        "insights/stickiness",
        _both(_content("chart"), _content("table", "result-table")),
    ),
    ("insights", "insights", _content("sel", "[data-testid=new-insight-links]")),
    ("dashboards", "dashboards", _content("sel", "#dashboard-form")),
    ("people", "people", _content("table", "people-table")),
    ("events", "events", _both(_content("table", "events-table"), _events)),
    (
        "event-definitions",
        "events/definitions",
        _both(
            _content("table", "definitions-table"),
            _content("sel", "[data-testid=definition-row][data-event=content_view]"),
        ),
    ),
    ("settings", "settings", _content("sel", "main form")),
    ("members", "settings/members", _both(_content("sel", "main table"), _members)),
    ("keys", "settings/keys", _content("sel", "main table")),
]


def test_every_page_on_demo_data(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.owner)
    page = tab.page
    for name, path, check in PAGES:
        tab.goto(f"/p/{e2e.project_id}/{path}")
        assert_not_error_page(page)
        check(page)
        tab.shot(name)

    tab.goto(f"/p/{e2e.project_id}/people")
    with page.expect_navigation(wait_until="load"):
        page.locator("[data-testid=person-row] a").first.click()
    tab.settle()
    assert_not_error_page(page)
    assert page.locator("[data-testid=person-name]").is_visible()
    assert page.locator("[data-testid=recent-event]").count() > 0
    ids = page.locator("[data-testid=distinct-ids] code").all_inner_texts()
    uuid = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
    if any(not uuid.fullmatch(i) for i in ids):  # identified: the title is not the UUID
        assert not uuid.fullmatch(page.inner_text("[data-testid=person-name]").strip())
    assert gap_below(page, "main .grid-2", "[data-testid=activity-calendar]") >= 12
    tab.shot("person")

    tab.goto("/account")
    tab.shot("account")


# ---- insights through the forms ------------------------------------------------------------


def funnel_api(e2e: E2EWorld, steps: list[str], d_from: date, d_to: date) -> dict[str, Any]:
    return e2e.api_query(
        {
            "kind": "funnel",
            "steps": [{"event": s} for s in steps],
            "mode": "ordered",
            "window": 14,
            "window_unit": "days",
            "date_range": {"date_from": d_from.isoformat(), "date_to": d_to.isoformat()},
        }
    )


def test_build_funnel_through_the_form(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.analyst)
    page = tab.page
    d_from, d_to = e2e.demo.date_from, e2e.demo.date_to
    tab.goto(f"/p/{e2e.project_id}/insights/funnels")
    assert page.locator("[data-testid=empty]").is_visible()  # nothing until steps are given
    page.fill("[data-testid=step-0]", "signup")
    page.fill("[data-testid=step-1]", "content_view")
    custom_range(page, d_from, d_to)
    run_form(tab)
    # Two filled steps → a third, blank row to add another step.
    page.fill("[data-testid=step-2]", "comment_created")
    run_form(tab)

    steps = ["signup", "content_view", "comment_created"]
    expected = funnel_api(e2e, steps, d_from, d_to)
    shown = [number(page.inner_text(f"[data-testid=step-{i}-persons]")) for i in (1, 2, 3)]
    assert shown == [s["count"] for s in expected["steps"]]
    assert shown[0] > 0 and shown[0] >= shown[1] >= shown[2] > 0, shown
    assert pct(expected["conversion_rate"]) in page.inner_text("[data-testid=summary]")
    assert_chart(page, "[data-testid=result]")
    assert page.input_value("#f-range") == "custom"  # the form shows what was asked
    assert page.input_value("#f-date_from") == d_from.isoformat()
    tab.shot("funnel")

    # A step's persons link to the people who reached it, as many as the table says.
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=step-3-persons] a")
    tab.settle()
    assert_not_error_page(page)
    assert page.locator("[data-testid=funnel-step]").is_visible()
    assert page.locator("[data-testid=person-row]").count() == min(shown[2], 50)
    tab.shot("funnel-step-people")


def test_build_retention_through_the_form(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.analyst)
    page = tab.page
    d_to = e2e.demo.date_to
    d_from = d_to - timedelta(days=13)
    tab.goto(f"/p/{e2e.project_id}/insights/retention")
    page.fill("[data-testid=field-start_event]", "signup")
    page.fill("[data-testid=field-return_event]", "content_view")
    page.select_option("[data-testid=field-retention_type]", "first_time")
    page.select_option("[data-testid=field-period]", "day")
    page.fill("[data-testid=field-periods]", "7")
    custom_range(page, d_from, d_to)
    run_form(tab)

    expected = e2e.api_query(
        {
            "kind": "retention",
            "start_event": {"event": "signup"},
            "return_event": {"event": "content_view"},
            "retention_type": "first_time",
            "period": "day",
            "periods": 7,
            "mode": "on",
            "date_range": {"date_from": d_from.isoformat(), "date_to": d_to.isoformat()},
        }
    )
    cohorts = expected["cohorts"]
    assert len(cohorts) == 14
    assert sum(c["size"] for c in cohorts) > 0
    for i, cohort in enumerate(cohorts, start=1):
        row = page.locator(f"[data-testid=retention-table] [data-testid=cohort-{i}]")
        assert row.locator("th").inner_text().strip() == cohort["period_start"]
        assert number(row.locator("td.num").first.inner_text()) == cohort["size"]
        counts = [
            int(c) for c in row.locator("td[data-count]").evaluate_all(
                "cells => cells.map(c => c.dataset.count)"
            )
        ]  # fmt: skip
        if cohort["size"]:
            assert counts == cohort["counts"][1:], f"cohort {cohort['period_start']}"
    # Someone who signed up came back the next day: the demo is a living product.
    assert any(c["counts"][1] > 0 for c in cohorts)
    assert page.locator("[data-testid=retention-average]").is_visible()
    tab.shot("retention")


def test_save_insight_and_pin_to_dashboard(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.owner)
    page = tab.page
    d_from, d_to = e2e.demo.date_from, e2e.demo.date_to
    tab.goto(f"/p/{e2e.project_id}/insights/funnels")
    page.fill("[data-testid=step-0]", "signup")
    page.fill("[data-testid=step-1]", "post_created")
    custom_range(page, d_from, d_to)
    run_form(tab)
    entered = number(page.inner_text("[data-testid=step-1-persons]"))
    assert entered > 0

    page.fill("[data-testid=save-name]", "注册到发帖 E2E")
    page.select_option("#dashboard-save", "new")
    page.fill("#new-dashboard-save", "运营周会 E2E")
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=save-insight]")
    tab.settle()
    assert re.search(rf"/p/{e2e.project_id}/insights/saved/\d+", page.url), page.url
    assert page.locator("[data-testid=success-message]").is_visible()
    assert page.inner_text("[data-testid=page-title]").strip() == "注册到发帖 E2E"
    # The saved insight reopens with the same numbers.
    assert number(page.inner_text("[data-testid=step-1-persons]")) == entered
    # Pinning offers a valid choice by default ("new dashboard": it is on the only one).
    assert page.input_value("#dashboard-pin") == "new"
    tab.shot("saved-insight")

    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=pinned-on] a")
    tab.settle()
    assert page.inner_text("[data-testid=page-title]").strip() == "运营周会 E2E"
    tiles = page.locator("[data-testid=tiles] section.tile")
    assert tiles.count() == 1
    assert tiles.first.locator("h2").inner_text().strip() == "注册到发帖 E2E"
    # The tile's chart arrives by htmx after the page.
    page.wait_for_selector("[data-testid=tiles] .js-plotly-plot .main-svg")
    tab.settle()
    assert_chart(page, "[data-testid=tiles]")
    assert (
        gap_below(page, "[data-testid=tiles]", "main section.card:has(#rename-dashboard-form)")
        >= 12
    )
    tab.shot("dashboard")

    tab.goto(f"/p/{e2e.project_id}/dashboards")
    assert page.get_by_text("运营周会 E2E").is_visible()
    tab.goto(f"/p/{e2e.project_id}/insights")
    assert page.get_by_text("注册到发帖 E2E").is_visible()
    tab.shot("insight-list")


def _dates(e2e: E2EWorld) -> dict[str, str]:
    return {"date_from": e2e.demo.date_from.isoformat(), "date_to": e2e.demo.date_to.isoformat()}


def modebar_titles(page: Page) -> list[str]:
    """Tooltips of the chart toolbar's buttons (Plotly's own UI, in its locale)."""
    return page.locator(".modebar-btn").evaluate_all("els => els.map(e => e.dataset.title)")


def test_series_filters_exclusions_and_path_events_through_the_form(
    console: Console, e2e: E2EWorld
) -> None:
    """The newer form controls build the query the API answers, and survive saving."""
    tab = console(e2e.owner)
    page = tab.page
    d_from, d_to = e2e.demo.date_from, e2e.demo.date_to

    # Trends: the first series counts only food views (its own filter), the second all views.
    tab.goto(f"/p/{e2e.project_id}/insights/trends")
    page.fill("[data-testid=event-0]", "content_view")
    assert not page.locator("[data-testid=s1-filter-key-0]").is_visible()  # folded away
    page.click("[data-testid=s1-filters-toggle]")
    page.fill("[data-testid=s1-filter-key-0]", "category")
    page.fill("[data-testid=s1-filter-value-0]", "美食")
    custom_range(page, d_from, d_to)
    run_form(tab)
    page.fill("[data-testid=event-1]", "content_view")
    run_form(tab)
    food = {"key": "category", "operator": "eq", "value": "美食", "type": "event"}
    expected = e2e.api_query(
        {
            "kind": "trends",
            "series": [{"event": "content_view", "filters": [food]}, {"event": "content_view"}],
            "date_range": _dates(e2e),
        }
    )
    rows = page.locator("[data-testid=result-table] tbody tr")
    shown = [number(rows.nth(i).locator("td").nth(1).inner_text()) for i in (0, 1)]
    assert shown == [s["aggregate"] for s in expected["series"]]
    assert 0 < shown[0] < shown[1], shown
    assert page.input_value("[data-testid=s1-filter-value-0]") == "美食"
    assert page.locator("[data-testid=s1-filter-value-0]").is_visible()  # unfolded: it has one
    tab.shot("trends-series-filters")

    # Funnel: people who like something between signing up and viewing are excluded.
    tab.goto(f"/p/{e2e.project_id}/insights/funnels")
    page.fill("[data-testid=step-0]", "signup")
    page.fill("[data-testid=step-1]", "content_view")
    page.fill("[data-testid=exclusion-0]", "content_liked")
    page.fill("[data-testid=exclusion-from-0]", "1")
    page.fill("[data-testid=exclusion-to-0]", "2")
    custom_range(page, d_from, d_to)
    run_form(tab)
    expected = e2e.api_query(
        {
            "kind": "funnel",
            "steps": [{"event": "signup"}, {"event": "content_view"}],
            "exclusions": [{"event": "content_liked", "from_step": 1, "to_step": 2}],
            "date_range": _dates(e2e),
        }
    )
    plain = funnel_api(e2e, ["signup", "content_view"], d_from, d_to)
    shown = [number(page.inner_text(f"[data-testid=step-{i}-persons]")) for i in (1, 2)]
    assert shown == [s["count"] for s in expected["steps"]]
    assert shown[0] <= plain["steps"][0]["count"] and shown[0] > 0
    assert "下载图表（PNG）" in modebar_titles(page)  # Plotly's toolbar speaks Chinese too
    page.fill("[data-testid=save-name]", "排除点赞的漏斗 E2E")
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=save-insight]")
    tab.settle()
    assert re.search(rf"/p/{e2e.project_id}/insights/saved/\d+", page.url), page.url
    assert page.input_value("[data-testid=exclusion-0]") == "content_liked"
    assert page.input_value("[data-testid=exclusion-from-0]") == "1"
    assert page.input_value("[data-testid=exclusion-to-0]") == "2"
    assert [number(page.inner_text(f"[data-testid=step-{i}-persons]")) for i in (1, 2)] == shown
    tab.shot("funnel-exclusion-saved")

    # Paths: only views and posts after signing up, with posts then hidden again.
    tab.goto(f"/p/{e2e.project_id}/insights/paths")
    page.fill("[data-testid=field-start_event]", "signup")
    page.fill("[data-testid=field-session_gap]", "0")
    page.fill("[data-testid=include-0]", "content_view")
    custom_range(page, d_from, d_to)
    run_form(tab)
    page.fill("[data-testid=include-1]", "post_created")
    page.fill("[data-testid=exclude-0]", "post_created")
    run_form(tab)
    expected = e2e.api_query(
        {
            "kind": "paths",
            "start_event": {"event": "signup"},
            "session_gap_minutes": None,
            "include_events": ["content_view", "post_created"],
            "exclude_events": ["post_created"],
            "date_range": _dates(e2e),
        }
    )
    assert {n["event"] for n in expected["nodes"]} == {"signup", "content_view"}
    labels = page.locator("[data-testid=result] .sankey-node .node-label").evaluate_all(
        "els => els.map(e => e.textContent).filter(Boolean)"
    )
    assert set(labels) == {"signup", "content_view"}, labels
    assert page.input_value("[data-testid=include-1]") == "post_created"
    assert page.input_value("[data-testid=exclude-0]") == "post_created"
    tab.shot("paths-include-exclude")

    english = console(e2e.viewer, locale="en")  # the viewer never chose a language
    english.goto(f"/p/{e2e.project_id}/insights/trends")
    assert "Download plot as a PNG" in modebar_titles(english.page)


# ---- language ---------------------------------------------------------------------------------


def _switch(tab: Tab, code: str) -> None:
    with tab.page.expect_navigation(wait_until="load"):
        tab.page.click(f"[data-testid=lang-{code}]")
    tab.settle()


def test_switch_language_and_back(console: Console, e2e: E2EWorld) -> None:
    overview = f"/p/{e2e.project_id}/overview"
    tab = console(e2e.analyst)  # the only test that changes this user's language
    page = tab.page
    tab.goto(overview)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("[data-testid=nav-overview]").strip() == "概览"
    tab.shot("zh")

    _switch(tab, "en")
    assert page.url == tab.url(overview)  # back on the same page
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("[data-testid=nav-overview]").strip() == "Overview"
    tab.shot("en")
    page.reload(wait_until="load")
    tab.settle()
    assert page.inner_text("[data-testid=nav-overview]").strip() == "Overview"

    # Remembered on the account: a new browser (asking for Chinese) signs in to English.
    other = console(e2e.analyst, locale="zh-CN", fresh=True)
    other.goto(overview)
    assert other.page.get_attribute("html", "lang") == "en"

    _switch(tab, "zh-CN")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("[data-testid=nav-overview]").strip() == "概览"
    page.reload(wait_until="load")
    tab.settle()
    assert page.inner_text("[data-testid=nav-overview]").strip() == "概览"
    tab.shot("zh-again")


# ---- roles and projects -------------------------------------------------------------------


def test_viewer_cannot_reach_settings(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.viewer)
    page = tab.page
    tab.goto(f"/p/{e2e.project_id}/overview")
    assert page.locator("[data-testid=nav-overview]").is_visible()
    assert page.locator("[data-testid=nav-settings]").count() == 0
    tab.shot("overview")

    for path in ("settings", "settings/members", "settings/keys"):
        tab.goto(f"/p/{e2e.project_id}/{path}", status=403)
        assert page.locator("[data-testid=error-page][data-status='403']").is_visible()
    tab.shot("settings-403")

    # Viewers read insights but get no controls to save them or make dashboards.
    tab.goto(f"/p/{e2e.project_id}/insights/trends")
    assert_chart(page)
    assert page.locator("[data-testid=save-panel]").count() == 0
    tab.goto(f"/p/{e2e.project_id}/dashboards")
    assert page.locator("#dashboard-form").count() == 0


def test_second_project_never_shows(console: Console, e2e: E2EWorld) -> None:
    p1, p2 = e2e.project_id, e2e.other_project_id
    # Control: the secret data is really there, for the member of project 2.
    insider = console(e2e.other_owner)
    insider.goto(f"/p/{p2}/events/definitions")
    assert insider.page.locator(f"[data-testid=definition-row][data-event={SECRET_EVENT}]").count()
    insider.shot("project2-definitions")
    insider.goto(f"/p/{p2}/insights/trends?event={SECRET_EVENT}&range=30d")
    assert trend_total(insider.page) == SECRET_DAYS

    tab = console(e2e.owner)
    page = tab.page
    for path in ("overview", "events", "events/definitions", "insights/trends", "people",
                 "dashboards", "settings"):  # fmt: skip
        tab.goto(f"/p/{p2}/{path}", status=404)
        assert page.locator("[data-testid=error-page][data-status='404']").is_visible()
        assert "Secret project" not in shown_text(page)
    tab.shot("project2-404")

    tab.goto(f"/p/{p1}/overview")
    page.click("[data-testid=project-switcher] summary")
    assert page.locator(f"[data-testid=project-{p1}]").is_visible()
    assert page.locator(f"[data-testid=project-{p2}]").count() == 0

    tab.goto(f"/p/{p1}/events/definitions")
    assert table_rows(page, "definitions-table") > 0
    assert SECRET_EVENT not in page.content()
    tab.goto(f"/p/{p1}/events")
    assert table_rows(page, "events-table") > 0
    assert SECRET_EVENT not in page.content() and SECRET_PERSON not in page.content()
    tab.goto(f"/p/{p1}/events?event={SECRET_EVENT}")
    assert page.locator("[data-testid=events-empty]").is_visible()
    tab.shot("explorer-filtered")
    tab.goto(f"/p/{p1}/people?q={SECRET_PERSON}")
    assert page.locator("[data-testid=people-empty]").is_visible()
    tab.goto(f"/p/{p1}/insights/trends")
    assert SECRET_EVENT not in page.content()  # not even in the event-name suggestions
    tab.goto(f"/p/{p1}/insights/trends?event={SECRET_EVENT}&range=30d")
    assert trend_total(page) == 0
    tab.shot("secret-trend-in-project1")


# ---- the same pages in English ------------------------------------------------------------


def test_pages_read_well_in_english(console: Console, e2e: E2EWorld) -> None:
    """Signed out and signed in with an English browser: the hint's command is code, date
    axes are numeric, the Sankey's columns are titled in English and its labels apart."""
    guest = console(None, locale="en")
    guest.goto("/login")
    assert guest.page.get_attribute("html", "lang") == "en"
    assert guest.page.inner_text("[data-testid=first-run-hint] code") == "yunying init"
    guest.shot("login-en")

    tab = console(e2e.viewer, locale="en")  # the viewer never chose a language
    page = tab.page
    tab.goto(f"/p/{e2e.project_id}/overview")
    assert page.get_attribute("html", "lang") == "en"
    assert_numeric_date_ticks(page, "[data-testid=active-users]")
    tab.shot("overview-en")
    tab.goto(f"/p/{e2e.project_id}/insights/paths")
    titles = page.locator("[data-testid=result] .annotation-text").evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    assert titles[0] == "Start event" and titles[1] == "Step 1", titles
    assert_labels_apart(page, "[data-testid=result]")
    tab.shot("paths-en")
    tab.goto(f"/p/{e2e.project_id}/insights/lifecycle")
    assert_numeric_date_ticks(page, "[data-testid=result]")
    tab.goto(f"/p/{e2e.project_id}/events")
    _events(page)
    tab.shot("events-en")
    tab.goto(f"/p/{e2e.project_id}/people")
    with page.expect_navigation(wait_until="load"):
        page.locator("[data-testid=person-row] a").first.click()
    tab.settle()
    assert gap_below(page, "main .grid-2", "[data-testid=activity-calendar]") >= 12
    tab.shot("person-en")
    tab.goto(f"/p/{e2e.project_id}/dashboards")
    board = page.locator("[data-testid=dashboard-list] a").first
    if board.count():
        with page.expect_navigation(wait_until="load"):
            board.click()
        tab.settle()
        page.wait_for_selector("[data-testid=tiles] .js-plotly-plot .main-svg")
        tab.settle()
        assert page.locator("#rename-dashboard-form").count() == 0  # a viewer only looks
    tab.shot("dashboard-en")
