"""Segment pages: list, builder (create, live preview, edit), refresh, members, history
chart, CSV export and upload, funnel-step lists, and roles."""

from __future__ import annotations

import json
import re

import pytest

from tests.factories import pid as person_id
from tests.web.conftest import HTML, Console, csrf, login
from tests.web.pages_support import figures, get, member, seed

PAYERS = {"type": "behaviour", "event": "pay", "window": {"last_days": 30}}


def _create(console: Console, pid: int, definition: dict, name: str = "Payers"):  # type: ignore[no-untyped-def]
    token = csrf(console.client, f"/p/{pid}/segments")
    return console.client.post(
        f"/p/{pid}/segments",
        data={"name": name, "definition": json.dumps(definition), "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )


def _post(console: Console, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf(console.client, path.rsplit("/", 1)[0] if "/segments/" in path else path)
    return console.client.post(
        path, data={**data, "csrf_token": token}, headers=HTML, follow_redirects=False
    )


def test_builder_create_refresh_members_history(console: Console) -> None:
    pid = member(console, "operator")
    seed(console, pid)
    builder = get(console, f"/p/{pid}/segments/new")
    assert builder.status_code == 200
    assert 'data-testid="builder"' in builder.text and "segments.js" in builder.text
    config = re.search(r'id="segment-builder-config">(.*?)</script>', builder.text, re.S)
    texts = json.loads(config.group(1))["texts"]
    assert texts["type.behaviour"] == "做过事件"  # zh-CN is the default locale
    r = _create(console, pid, PAYERS)
    assert r.status_code == 303
    seg_url = r.headers["location"].split("?")[0]
    page = get(console, seg_url)
    assert page.status_code == 200 and 'data-testid="members-empty"' in page.text
    assert _post(console, f"{seg_url}/refresh").status_code == 303
    page = get(console, seg_url)
    shown = re.findall(r'data-testid="member-row" data-person="([^"]+)"', page.text)
    assert sorted(shown) == sorted(person_id(u, pid) for u in ["u1", "u2"])
    fig = figures(page.text)[0]
    assert [tr["y"] for tr in fig["data"]] == [[2], [0], [2]]  # entered, -left, members
    listing = get(console, f"/p/{pid}/segments").text
    assert re.search(r'data-testid="segment-count">2<', listing)
    csv_text = get(console, f"{seg_url}/export.csv").text
    assert csv_text.lstrip("\ufeff").splitlines()[0] == "person_id,distinct_ids"
    assert len(csv_text.splitlines()) == 3
    # edit: a redefinition applies at the next refresh, which records who left
    edit = get(console, f"{seg_url}/edit")
    assert edit.status_code == 200 and "&#34;pay&#34;" in edit.text
    token = csrf(console.client, f"{seg_url}/edit")
    stricter = {**PAYERS, "count": {"comparator": "at_least", "value": 2}}
    saved = console.client.post(
        seg_url,
        data={"name": "Payers 2+", "definition": json.dumps(stricter), "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    _post(console, f"{seg_url}/refresh")
    page = get(console, seg_url).text
    assert "Payers 2+" in page and 'data-testid="members-empty"' in page
    assert [tr["y"] for tr in figures(page)[0]["data"]] == [[2, 0], [0, -2], [2, 0]]


def test_preview_fragment(console: Console) -> None:
    pid = member(console, "analyst")
    seed(console, pid)
    token = csrf(console.client, f"/p/{pid}/segments")
    r = console.client.post(
        f"/p/{pid}/segments/preview",
        data={"definition": json.dumps(PAYERS), "csrf_token": token},
        headers=HTML,
    )
    assert r.status_code == 200
    assert re.search(r'data-testid="preview-count">2<', r.text)
    assert "Alice" in r.text  # sample persons by name
    bad = {
        "op": "and",
        "conditions": [{"type": "behaviour", "event": "pay", "count": {"value": -1}}],
    }
    r = console.client.post(
        f"/p/{pid}/segments/preview",
        data={"definition": json.dumps(bad), "csrf_token": token},
        headers=HTML,
    )
    assert 'data-field="definition.conditions.0.count.value"' in r.text
    r = console.client.post(
        f"/p/{pid}/segments/preview",
        data={"definition": "{oops", "csrf_token": token},
        headers=HTML,
    )
    assert "JSON" in r.text and 'data-testid="preview-error"' in r.text


def test_bad_definition_keeps_the_form(console: Console) -> None:
    pid = member(console, "operator")
    r = _create(console, pid, {"type": "behaviour", "event": ""}, name="Oops")
    assert r.status_code == 400
    assert 'data-field="definition.event"' in r.text and 'value="Oops"' in r.text


def test_static_list_upload_and_funnel_step(console: Console) -> None:
    pid = member(console, "operator")
    seed(console, pid)
    r = _post(console, f"/p/{pid}/segments", name="VIP", kind="static")
    assert r.status_code == 303
    seg_url = r.headers["location"].split("?")[0]
    token = csrf(console.client, seg_url)
    up = console.client.post(
        f"{seg_url}/upload",
        data={"csrf_token": token},
        files={"file": ("ids.csv", b"distinct_id\nu3\nu4\nghost\n", "text/csv")},
        headers=HTML,
    )
    assert up.status_code == 200
    assert 'data-testid="upload-result"' in up.text and "ghost" in up.text
    shown = re.findall(r'data-testid="member-row" data-person="([^"]+)"', up.text)
    assert sorted(shown) == sorted(person_id(u, pid) for u in ["u3", "u4"])
    bad = console.client.post(
        f"{seg_url}/upload",
        data={"csrf_token": token},
        files={"file": ("x.csv", b"email\nx\n", "text/csv")},
        headers=HTML,
    )
    assert bad.status_code == 400 and 'data-field="file"' in bad.text

    funnel_qs = "step=signup&step=view&step=pay&range=30d&funnel_step=2&dropped=0"
    people = get(console, f"/p/{pid}/people/funnel?{funnel_qs}")
    assert 'data-testid="save-segment"' in people.text
    saved = _post(console, f"/p/{pid}/segments/from-funnel", name="Viewed", funnel=funnel_qs)
    assert saved.status_code == 303
    page = get(console, saved.headers["location"].split("?")[0]).text
    assert len(re.findall(r'data-testid="member-row"', page)) == 4


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_read_only_roles(console: Console, role: str) -> None:
    owner_pid = member(console, "operator", email="op@x.io")
    r = _create(console, owner_pid, PAYERS)
    seg_url = r.headers["location"].split("?")[0]
    other = console.new_client()
    console.user(f"{role}@x.io", role, owner_pid)
    login(other, f"{role}@x.io")
    listing = other.get(f"/p/{owner_pid}/segments", headers=HTML)
    assert listing.status_code == 200 and 'data-testid="new-segment"' not in listing.text
    page = other.get(seg_url, headers=HTML)
    assert page.status_code == 200 and 'data-testid="refresh-segment"' not in page.text
    assert other.get(f"/p/{owner_pid}/segments/new", headers=HTML).status_code == 403
    token = csrf(other, f"/p/{owner_pid}/segments")
    for path in [f"{seg_url}/refresh", f"{seg_url}/delete", f"/p/{owner_pid}/segments"]:
        r = other.post(path, data={"csrf_token": token, "name": "x"}, headers=HTML)
        assert r.status_code == 403, path


def test_other_projects_segments_are_not_found(console: Console) -> None:
    pid = member(console, "owner")
    r = _create(console, pid, PAYERS)
    seg_id = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    other_pid = console.project("Other")
    with console.db() as s:
        from yunying.accounts.members import add_member

        add_member(session=s, project_id=other_pid, user_id=1, role="owner")
    assert get(console, f"/p/{other_pid}/segments/{seg_id}").status_code == 404
    assert get(console, f"/p/{pid}/segments/999").status_code == 404


def test_delete(console: Console) -> None:
    pid = member(console, "admin")
    r = _create(console, pid, PAYERS)
    seg_url = r.headers["location"].split("?")[0]
    gone = _post(console, f"{seg_url}/delete")
    assert gone.status_code == 303
    assert 'data-testid="segments-empty"' in get(console, f"/p/{pid}/segments").text


def test_summary_and_history_figure_are_pure() -> None:
    from datetime import UTC, datetime

    from yunying.db.segment_models import SegmentRun
    from yunying.people.segments import dsl
    from yunying.web.i18n import translate
    from yunying.web.segment_view import history_figure, summary

    def t(key: str, **kw: object) -> str:
        return translate("en", key, **kw)

    node = dsl.parse_definition(
        {
            "op": "or",
            "conditions": [
                {
                    "type": "behaviour",
                    "event": "pay",
                    "count": {"comparator": "at_least", "value": 3},
                },
                {
                    "op": "not",
                    "condition": {"type": "layer", "scheme": "activity", "values": ["core"]},
                },
            ],
        }
    )
    assert summary(node, t) == "(Did an event: pay at least 3 or not Layer: activity: core)"
    runs = [
        SegmentRun(run_id=1, at=datetime(2024, 1, 1, 16, tzinfo=UTC), members=5, entered=5, left=0),
        SegmentRun(run_id=2, at=datetime(2024, 1, 2, 16, tzinfo=UTC), members=4, entered=1, left=2),
    ]
    fig = history_figure(runs, t, "Asia/Shanghai")
    assert fig["data"][0]["x"] == ["2024-01-02 00:00", "2024-01-03 00:00"]
    assert [tr["y"] for tr in fig["data"]] == [[5, 1], [0, -2], [5, 4]]
