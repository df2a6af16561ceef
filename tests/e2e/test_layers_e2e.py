"""The layers page in a real browser on the demo data: the three charts render under the
CSP, the numbers agree with the HTTP API, a layer links to its persons and on to a
profile, an owner changes a rule and publishes, a viewer only reads.

Screenshots: test-artifacts/screenshots/test_layers_page-*.png.
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import E2EWorld

pytestmark = pytest.mark.e2e


def _submit(tab, selector: str) -> None:  # type: ignore[no-untyped-def]
    with tab.page.expect_navigation(wait_until="load"):
        tab.page.click(selector)
    tab.settle()


def _api(e2e: E2EWorld, path: str) -> dict:
    r = httpx.get(
        f"{e2e.url}/api/projects/{e2e.project_id}/layers{path}",
        headers={"Authorization": f"Bearer {e2e.server.secret_key}"},
        timeout=60,
    )
    r.raise_for_status()
    return r.json()


def test_layers_page(console, e2e: E2EWorld) -> None:  # type: ignore[no-untyped-def]
    tab = console(e2e.owner)
    page = tab.page
    path = f"/p/{e2e.project_id}/layers"
    tab.goto(path)
    assert page.locator("[data-testid=page-title]").is_visible()
    for chart in ("layers-chart", "rfm-chart", "transitions-chart"):
        assert page.locator(f"[data-testid={chart}] .main-svg").count() > 0, chart
    tab.shot("owner")

    # the page and the API agree (both as of today)
    api = _api(e2e, "/activity")
    shown = int(page.inner_text("[data-testid=stat-persons-value]").replace(",", ""))
    assert shown == api["persons"] > 0
    for layer in api["layers"]:
        cell = page.inner_text(f"[data-testid=layer-count-{layer['key']}]").replace(",", "")
        assert int(cell) == layer["persons"]
    buyers = int(page.inner_text("[data-testid=stat-buyers-value]").replace(",", ""))
    assert buyers == _api(e2e, "/rfm")["buyers"] > 0

    page.select_option("[data-testid=period]", "month")
    _submit(tab, "[data-testid=layers-query] button[type=submit]")
    assert "period=month" in page.url
    assert page.locator("[data-testid=transitions-chart] .main-svg").count() > 0

    # a layer → its persons → a profile
    link = page.locator("[data-testid=layers-table] a").first
    with page.expect_navigation(wait_until="load"):
        link.click()
    tab.settle()
    assert page.locator("[data-testid=person-row]").count() > 0
    tab.shot("persons")
    with page.expect_navigation(wait_until="load"):
        page.locator("[data-testid=person-row] a").first.click()
    tab.settle()
    assert "/people/" in page.url

    # an owner changes a rule, then publishes
    tab.goto(path)
    page.click("[data-testid=settings-form] >> xpath=.. >> summary")
    page.fill("#f-activity-active_days", "3")
    _submit(tab, "[data-testid=settings-save]")
    assert page.locator("[data-testid=success-message]").is_visible()
    assert page.input_value("#f-activity-active_days") == "3"
    _submit(tab, "[data-testid=compute]")
    assert page.locator("[data-testid=success-message]").is_visible()
    page.click("[data-testid=settings-form] >> xpath=.. >> summary")
    page.fill("#f-activity-active_days", "7")  # back to the default for other tests
    _submit(tab, "[data-testid=settings-save]")

    viewer = console(e2e.viewer)
    viewer.goto(path)
    assert viewer.page.locator("[data-testid=settings-save]").count() == 0
    assert viewer.page.locator("[data-testid=compute]").count() == 0
    assert viewer.page.locator("[data-testid=settings-readonly]").count() == 1
    viewer.shot("viewer")
