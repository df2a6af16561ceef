"""The churn page in a real browser on the demo data: an owner sets the horizon, trains and
scores, evaluates the warning line and fits BG/NBD; every chart renders; a viewer only reads.

Screenshots: test-artifacts/screenshots/test_churn_page-*.png.
"""

from __future__ import annotations

from tests.e2e.conftest import E2EWorld


def _submit(tab, selector: str) -> None:  # type: ignore[no-untyped-def]
    with tab.page.expect_navigation(wait_until="load"):
        tab.page.click(selector)
    tab.settle()


def test_churn_page(console, e2e: E2EWorld) -> None:  # type: ignore[no-untyped-def]
    tab = console(e2e.owner)
    page = tab.page
    path = f"/p/{e2e.project_id}/churn"
    tab.goto(path)
    assert page.locator("[data-testid=page-title]").is_visible()
    assert page.locator("[data-testid=no-model]").is_visible()
    tab.shot("empty")

    # The demo covers 30 days: a 7-day horizon leaves room for a training and a
    # validation snapshot with complete label windows.
    page.click("[data-testid=settings-form] >> xpath=.. >> summary")
    page.fill("#horizon_days", "7")
    page.fill("#risk_threshold", "0.6")
    # BG/NBD on content views: the small demo has too few buyers for a meaningful fit.
    page.fill("#purchase_event", "content_view")
    _submit(tab, "[data-testid=settings-save]")
    assert page.locator("[data-testid=success-message]").is_visible()

    _submit(tab, "[data-testid=train]")
    assert page.locator("[data-testid=success-message]").is_visible(), page.content()[:2000]
    roc_auc = float(page.inner_text("[data-testid=roc-auc-value]"))
    assert 0.5 < roc_auc <= 1.0
    assert page.locator("[data-testid=importance-chart] .main-svg").count() > 0
    assert page.locator("[data-testid=risk-histogram] .main-svg").count() > 0
    assert page.locator("[data-testid=at-risk-row]").count() > 0

    _submit(tab, "[data-testid=evaluate]")
    assert page.locator("[data-testid=warning-trend] .main-svg").count() > 0
    _submit(tab, "[data-testid=fit-bgnbd]")
    assert float(page.inner_text("[data-testid=bgnbd-r]")) > 0
    assert page.locator("[data-testid=alive-histogram] .main-svg").count() > 0
    tab.shot("trained")

    with page.expect_navigation(wait_until="load"):
        page.locator("[data-testid=at-risk-row] a").first.click()
    tab.settle()
    assert page.locator("[data-testid=person-name]").is_visible()

    viewer = console(e2e.viewer)
    viewer.goto(path)
    assert viewer.page.locator("[data-testid=roc-auc-value]").inner_text() == f"{roc_auc:.3f}"
    assert viewer.page.locator("[data-testid=train]").count() == 0
    assert viewer.page.locator("[data-testid=rule-form]").count() == 0
    viewer.shot("viewer")
