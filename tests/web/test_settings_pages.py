"""Project settings pages: general settings, API keys, members (admin+)."""

from __future__ import annotations

import re

from tests.web.conftest import HTML, Console, csrf, login
from yunying.accounts.members import list_members
from yunying.db.projects import get_project, list_api_keys, project_for_key


def _admin(console: Console, role: str = "admin") -> int:
    pid = console.project()
    console.user("boss@x.io", role, pid)
    login(console.client, "boss@x.io")
    return pid


def test_general_settings_are_saved_and_validated(console: Console) -> None:
    pid = _admin(console)
    c = console.client
    page = c.get(f"/p/{pid}/settings", headers=HTML)
    assert page.status_code == 200 and 'id="timezone"' in page.text
    form = {
        "csrf_token": csrf(c),
        "name": "Shop",
        "timezone": "Europe/Berlin",
        "week_start": "7",
        "activation_event": "first_order",
        "revenue_property": "amount",
    }
    r = c.post(f"/p/{pid}/settings", data=form, headers=HTML)
    assert r.status_code == 200 and "设置已保存" in r.text
    with console.db() as s:
        p = get_project(s, pid)
        assert (p.name, p.timezone, p.week_start, p.activation_event, p.revenue_property) == (
            "Shop", "Europe/Berlin", 7, "first_order", "amount",
        )  # fmt: skip
    bad = c.post(f"/p/{pid}/settings", data={**form, "name": "Zzz", "timezone": "Mars/Base"})
    assert bad.status_code == 400 and "未知的时区" in bad.text
    with console.db() as s:  # nothing of the failed form was kept
        assert get_project(s, pid).name == "Shop"


def test_api_keys_create_show_once_and_revoke(console: Console) -> None:
    pid = _admin(console)
    c = console.client
    r = c.post(
        f"/p/{pid}/settings/keys", data={"csrf_token": csrf(c), "kind": "secret", "name": "etl"}
    )
    token = re.search(r'data-testid="new-key-token">([^<]+)<', r.text).group(1)
    assert token.startswith("yys_")
    listing = c.get(f"/p/{pid}/settings/keys", headers=HTML).text
    assert token not in listing and token[:10] in listing
    with console.db() as s:
        assert project_for_key(s, token, kinds=("secret",)).id == pid
        new_id = max(k.id for k in list_api_keys(s, pid))
        first_secret = min(k.id for k in list_api_keys(s, pid) if k.kind == "secret")
    r = c.post(
        f"/p/{pid}/settings/keys/{new_id}/revoke", data={"csrf_token": csrf(c)}, headers=HTML
    )
    assert r.status_code == 200 and "密钥已吊销" in r.text
    with console.db() as s:
        assert project_for_key(s, token, kinds=("secret",)) is None
    last = c.post(f"/p/{pid}/settings/keys/{first_secret}/revoke", data={"csrf_token": csrf(c)})
    assert last.status_code == 400 and "最后一个生效的私钥" in last.text


def test_admin_manages_members_below_admin_only(console: Console) -> None:
    pid = _admin(console)
    owner = console.user("owner@x.io", "owner", pid)
    ann = console.user("ann@x.io", "viewer", pid)
    c = console.client
    page = c.get(f"/p/{pid}/settings/members", headers=HTML).text
    assert f'data-testid="role-{ann}"' in page and f'data-testid="role-{owner}"' not in page
    token = csrf(c)
    ok = c.post(
        f"/p/{pid}/settings/members/{ann}/role", data={"csrf_token": token, "role": "operator"}
    )
    assert ok.status_code == 200 and "角色已修改" in ok.text
    for path, data in [
        (f"/p/{pid}/settings/members/{owner}/role", {"role": "viewer"}),
        (f"/p/{pid}/settings/members/{owner}/remove", {}),
        (f"/p/{pid}/settings/members/{ann}/role", {"role": "owner"}),
        (f"/p/{pid}/settings/members", {"email": "x@x.io", "role": "admin"}),
    ]:
        r = c.post(path, data={**data, "csrf_token": token}, headers=HTML)
        assert r.status_code == 400, path
        assert 'data-testid="error-message"' in r.text
    gone = c.post(f"/p/{pid}/settings/members/{ann}/remove", data={"csrf_token": token})
    assert gone.status_code == 200 and "成员已移除" in gone.text
    assert "ann@x.io" not in gone.text


def test_owner_can_make_admins_but_not_drop_the_last_owner(console: Console) -> None:
    pid = _admin(console, role="owner")
    ann = console.user("ann@x.io", "viewer", pid)
    c = console.client
    token = csrf(c)
    r = c.post(f"/p/{pid}/settings/members/{ann}/role", data={"csrf_token": token, "role": "admin"})
    assert r.status_code == 200
    with console.db() as s:
        me = next(m.user_id for m in list_members(s, pid) if m.email == "boss@x.io")
    r = c.post(
        f"/p/{pid}/settings/members/{me}/role",
        data={"csrf_token": token, "role": "viewer"},
        headers=HTML,
    )
    assert r.status_code == 400 and "最后一位所有者" in r.text


def test_invite_existing_user_shows_no_password(console: Console) -> None:
    pid = _admin(console)
    console.user("ann@x.io")
    r = console.client.post(
        f"/p/{pid}/settings/members",
        data={"csrf_token": csrf(console.client), "email": "ANN@x.io", "role": "analyst"},
        headers=HTML,
    )
    assert r.status_code == 200 and "成员已添加" in r.text
    assert 'data-testid="temp-password"' not in r.text


def test_settings_nav_only_for_admins(console: Console) -> None:
    pid = _admin(console)
    html = console.client.get(f"/p/{pid}/settings", headers=HTML).text
    assert 'data-testid="nav-settings"' in html and 'data-testid="nav-retention"' in html
    console.user("ann@x.io", "analyst", pid)
    other = console.new_client()
    login(other, "ann@x.io")
    forbidden = other.get(f"/p/{pid}/settings", headers=HTML)
    assert forbidden.status_code == 403 and 'data-testid="nav-settings"' not in forbidden.text
    assert 'data-testid="nav-overview"' in forbidden.text  # the project nav is still there


def test_invite_new_user_shows_a_working_temporary_password_once(console: Console) -> None:
    from yunying.accounts.users import authenticate

    pid = _admin(console)
    r = console.client.post(
        f"/p/{pid}/settings/members",
        data={"csrf_token": csrf(console.client), "email": "new@x.io", "role": "viewer"},
        headers=HTML,
    )
    assert r.status_code == 200
    shown = re.search(r'data-testid="temp-password">([^<]+)<', r.text)
    assert shown is not None
    with console.db() as s:
        assert authenticate(session=s, email="new@x.io", password=shown.group(1)) is not None
    again = console.client.get(f"/p/{pid}/settings/members", headers=HTML)
    assert 'data-testid="temp-password"' not in again.text
