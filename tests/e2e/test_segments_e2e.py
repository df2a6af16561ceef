"""Segments in a real browser: build a segment with the builder (no JSON typed), see the
live count agree with the HTTP API, save it, refresh it, and find it in the list."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import E2EWorld, Tab

pytestmark = pytest.mark.e2e

Console = Callable[..., Tab]


def api_preview(e2e: E2EWorld, definition: dict) -> int:
    r = httpx.post(
        f"{e2e.url}/api/projects/{e2e.project_id}/segments/preview",
        json={"definition": definition},
        headers={"Authorization": f"Bearer {e2e.server.secret_key}"},
        timeout=30,
    )
    r.raise_for_status()
    return int(r.json()["count"])


def shown_count(tab: Tab) -> int:
    return int(tab.page.inner_text("[data-testid=preview-count]").replace(",", ""))


def wait_for_count(tab: Tab, expected: int) -> None:
    tab.page.wait_for_function(
        "(n) => { const e = document.querySelector('[data-testid=preview-count]');"
        " return e && Number(e.textContent.replace(/,/g, '')) === n; }",
        arg=expected,
    )


def test_build_preview_save_and_list(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.owner)
    page = tab.page
    tab.goto(f"/p/{e2e.project_id}/segments/new")
    builder = page.locator("[data-testid=builder]")
    assert builder.locator("[data-testid=builder-condition]").count() == 1

    # First condition: did "purchase" at least once in the last 30 days.
    first = builder.locator("[data-testid=builder-condition]").nth(0)
    first.locator("input[data-field=event]").fill("purchase")
    definition = json.loads(page.input_value("[data-testid=segment-json]"))
    buyers = api_preview(e2e, definition)
    assert buyers > 0
    wait_for_count(tab, buyers)

    # Second condition, switched to "active days": at least 3 days of the last 30.
    page.click("[data-testid=add-condition]")
    second = builder.locator("[data-testid=builder-condition]").nth(1)
    second.locator("select[data-field=type]").select_option("active_days")
    second.locator("input[data-field=at_least]").fill("3")
    definition = json.loads(page.input_value("[data-testid=segment-json]"))
    assert definition["conditions"][1] == {
        "type": "active_days", "at_least": 3, "last_days": 30,
    }  # fmt: skip
    both = api_preview(e2e, definition)
    assert 0 < both <= buyers
    wait_for_count(tab, both)
    assert shown_count(tab) == both
    tab.shot("builder")

    # A NOT on the second condition: buyers who were active on fewer than 3 days.
    second.locator("[data-testid=builder-not]").check()
    definition = json.loads(page.input_value("[data-testid=segment-json]"))
    assert definition["conditions"][1]["op"] == "not"
    wait_for_count(tab, buyers - both)

    second.locator("[data-testid=builder-not]").uncheck()
    page.fill("[data-testid=segment-name]", "活跃买家")
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=save-segment]")
    tab.settle()
    assert page.locator("[data-testid=success-message]").is_visible()
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=refresh-segment]")
    tab.settle()
    assert int(page.inner_text("[data-testid=member-count]").replace(",", "")) == both
    assert page.locator("#segment-history .main-svg").count() >= 1  # the history chart drew
    tab.shot("segment")

    tab.goto(f"/p/{e2e.project_id}/segments")
    row = page.locator("[data-testid=segment-row]", has_text="活跃买家")
    assert row.count() == 1
    assert int(row.locator("[data-testid=segment-count]").inner_text().replace(",", "")) == both
    tab.shot("list")


def test_viewer_sees_no_builder(console: Console, e2e: E2EWorld) -> None:
    tab = console(e2e.viewer)
    tab.goto(f"/p/{e2e.project_id}/segments")
    assert tab.page.locator("[data-testid=new-segment]").count() == 0
    tab.goto(f"/p/{e2e.project_id}/segments/new", status=403)
