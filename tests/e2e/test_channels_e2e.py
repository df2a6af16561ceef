"""The channels page and a person's profile in a real browser on the demo data: charts
render under the CSP, the table agrees with the HTTP API, the attribution switch works, an
owner uploads a cost CSV and sees CAC and ROI, a viewer only reads, and a channel leads to
its persons and on to a profile.

Screenshots: test-artifacts/screenshots/channels_page-*.png and person_profile-*.png.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.e2e.conftest import E2EWorld, demo_end

pytestmark = pytest.mark.e2e


def _submit(tab, selector: str) -> None:  # type: ignore[no-untyped-def]
    with tab.page.expect_navigation(wait_until="load"):
        tab.page.click(selector)
    tab.settle()


def _api_report(e2e: E2EWorld, **params: str) -> dict:
    r = httpx.get(
        f"{e2e.url}/api/projects/{e2e.project_id}/channels",
        params=params,
        headers={"Authorization": f"Bearer {e2e.server.secret_key}"},
        timeout=60,
    )
    r.raise_for_status()
    return r.json()


def _cell(page, channel: str, column: int) -> str:  # type: ignore[no-untyped-def]
    row = page.locator(f"[data-testid=channel-table] tr:has([data-testid='row-{channel}'])")
    return row.locator("td").nth(column).inner_text().strip()


def test_channels_page(console, e2e: E2EWorld, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tab = console(e2e.owner)
    page = tab.page
    path = f"/p/{e2e.project_id}/channels"
    tab.goto(path)
    assert page.locator("[data-testid=channel-table] tbody tr").count() >= 3
    assert page.locator("#chart-new .main-svg").count() > 0
    assert page.locator("#chart-retention .main-svg").count() > 0
    tab.shot("no-costs")

    # the page and the API agree on new persons per channel (default: last 30 full days)
    end = demo_end()
    dates = {"date_from": (end - timedelta(days=29)).isoformat(), "date_to": end.isoformat()}
    api = _api_report(e2e, **dates)
    top = api["channels"][0]
    assert int(_cell(page, top["channel"], 1).replace(",", "")) == top["new_persons"] > 0

    # last touch: the switch re-runs the page with the other model
    page.select_option("[data-testid=field-model]", "last_touch")
    page.fill("[data-testid=field-conversion_event]", "signup")
    _submit(tab, "[data-testid=run]")
    assert "model=last_touch" in page.url
    assert "末次触达" in page.inner_text("[data-testid=channels-period]")
    last = _api_report(e2e, model="last_touch", conversion_event="signup", **dates)
    assert page.locator("[data-testid=channel-table] tbody tr").count() == len(last["channels"]) + 1

    # an owner uploads costs for the two largest channels and sees CAC and ROI
    channels = [c["channel"] for c in api["channels"][:2]]
    day = (end - timedelta(days=3)).isoformat()
    csv_file = tmp_path / "costs.csv"
    csv_file.write_text(
        f"date,channel,cost\n{day},{channels[0]},500\n{day},{channels[1]},120\n", "utf-8"
    )
    tab.goto(path)
    page.set_input_files("[data-testid=costs-file]", str(csv_file))
    _submit(tab, "[data-testid=costs-upload]")
    assert "已导入 2 条成本" in page.inner_text("[data-testid=success-message]")
    assert page.locator("#chart-cac .main-svg").count() > 0
    assert page.locator("#chart-roi .main-svg").count() > 0
    with_costs = _api_report(e2e, **dates)
    first = next(c for c in with_costs["channels"] if c["channel"] == channels[0])
    assert first["cost"] == 500.0 and first["cac"] == pytest.approx(500 / first["new_persons"])
    assert _cell(page, channels[0], 10) == f"{first['cost']:,.2f}"
    tab.shot("with-costs")

    # a channel → its new persons → a profile
    page.click(f"[data-testid='row-{channels[0]}'] a")
    tab.settle()
    assert "/channels/people" in page.url
    assert page.locator("[data-testid=person-row]").count() > 0
    page.locator("[data-testid=person-row] a").first.click()
    tab.settle()
    assert page.locator("[data-testid=person-facts]").is_visible()
    assert page.inner_text("[data-testid=first-touch]").startswith(channels[0])


def test_channels_page_viewer_reads_only(console, e2e: E2EWorld) -> None:  # type: ignore[no-untyped-def]
    tab = console(e2e.viewer)
    tab.goto(f"/p/{e2e.project_id}/channels")
    assert tab.page.locator("[data-testid=costs-form]").count() == 0
    assert tab.page.locator("[data-testid=costs-read-only]").is_visible()
    tab.goto(f"/p/{e2e.other_project_id}/channels", status=404)


def test_person_profile(console, e2e: E2EWorld) -> None:  # type: ignore[no-untyped-def]
    tab = console(e2e.owner, locale="en")
    page = tab.page
    tab.goto(f"/p/{e2e.project_id}/people")
    page.locator("[data-testid=person-row] a").first.click()
    tab.settle()
    for testid in ("person-facts", "person-properties", "event-counts", "person-segments",
                   "activity-calendar", "recent-events"):  # fmt: skip
        assert page.locator(f"[data-testid={testid}]").is_visible(), testid
    assert page.locator("#chart-events .main-svg").count() > 0
    assert page.locator("[data-testid=lifecycle-badge]").count() == 1
    assert int(page.inner_text("[data-testid=active-days]").replace(",", "")) >= 1
    tab.shot("en")
