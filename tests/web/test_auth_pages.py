"""Console sign-in, sessions, CSRF, roles and languages, through the real app."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import HTML, PASSWORD, Console, csrf, csrf_from, login
from yunying.api.app import create_app
from yunying.config import Settings


def _cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def test_sign_in_and_out(console: Console) -> None:
    pid = console.project()
    console.user("ann@x.io", "viewer", pid)
    c = console.client
    assert c.get("/", headers=HTML, follow_redirects=False).headers["location"] == "/login"
    r = login(c, "ANN@x.io")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert c.get("/", headers=HTML, follow_redirects=False).headers["location"] == (
        f"/p/{pid}/overview"
    )
    page = c.get("/account", headers=HTML)
    assert page.status_code == 200 and "ann@x.io" in page.text
    out = c.post("/logout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and "Max-Age=0" in _cookie(out, "yy_session")
    again = c.get("/account", headers=HTML, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_session_cookie_flags(console: Console, settings: Settings) -> None:
    console.user("ann@x.io")
    pre = _cookie(console.client.get("/login", headers=HTML), "yy_csrf")
    assert "HttpOnly" in pre and "samesite=lax" in pre.lower()
    cookie = _cookie(login(console.client, "ann@x.io"), "yy_session")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http, setting off
    with TestClient(console.app, base_url="https://testserver") as tls:
        assert "Secure" in _cookie(login(tls, "ann@x.io"), "yy_session")


def test_cookie_secure_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path, cookie_secure=True))
    with TestClient(app) as client:
        Console(app, client).user("ann@x.io")
        page = client.get("/login", headers=HTML)
        assert "Secure" in _cookie(page, "yy_csrf")
        token = csrf_from(page.text)  # a Secure cookie is not sent back over http: send it
        r = client.post(
            "/login",
            data={"email": "ann@x.io", "password": PASSWORD, "csrf_token": token},
            headers={"cookie": f"yy_csrf={token}"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and "Secure" in _cookie(r, "yy_session")


def test_wrong_password_is_refused_in_the_viewers_language(console: Console) -> None:
    console.user("ann@x.io")
    r = login(console.client, "ann@x.io", "wrong password!")
    assert r.status_code == 401 and "邮箱或密码错误" in r.text
    assert "yy_session" not in r.headers.get("set-cookie", "")
    en = console.new_client()
    page = en.get("/login", headers={**HTML, "accept-language": "en-US,en;q=0.9"})
    r = en.post(
        "/login",
        data={
            "email": "ann@x.io",
            "password": "nope nope nope",
            "csrf_token": csrf_from(page.text),
        },
        headers={**HTML, "accept-language": "en-US"},
    )
    assert r.status_code == 401 and "Wrong email or password." in r.text


def test_sign_in_is_rate_limited(console: Console) -> None:
    console.user("ann@x.io")
    for _ in range(5):
        assert login(console.client, "ann@x.io", "wrong password!").status_code == 401
    r = login(console.client, "ann@x.io")  # right password, but too many failures
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "登录失败次数过多" in r.text and "15" in r.text
    # kept in the database: a new app on the same data dir still refuses
    app = create_app(console.app.state.yunying.settings)
    with TestClient(app) as other:
        assert login(other, "ann@x.io").status_code == 429


def test_csrf_is_required_on_every_unsafe_request(console: Console) -> None:
    console.user("ann@x.io")
    c = console.client
    # before sign-in: the login form itself is protected
    c.get("/login", headers=HTML)
    r = c.post("/login", data={"email": "ann@x.io", "password": PASSWORD}, headers=HTML)
    assert r.status_code == 403
    assert login(c, "ann@x.io").status_code == 303
    token = csrf(c)
    form = {"current_password": PASSWORD, "new_password": "x" * 12, "confirm_password": "x" * 12}
    assert c.post("/account/password", data=form, headers=HTML).status_code == 403
    bad = c.post("/account/password", data={**form, "csrf_token": "x" * 43}, headers=HTML)
    assert bad.status_code == 403 and "表单已过期" in bad.text
    assert c.post("/logout", headers={"x-csrf-token": "wrong"}).status_code == 403
    # the header htmx sends is accepted as well as the form field
    ok = c.post("/account/language", data={"locale": "en"}, headers={"x-csrf-token": token})
    assert ok.status_code == 200  # followed the redirect


def test_password_change_ends_other_sessions(console: Console) -> None:
    console.user("ann@x.io")
    a, b = console.client, console.new_client()
    assert login(a, "ann@x.io").status_code == 303
    assert login(b, "ann@x.io").status_code == 303
    form = {
        "csrf_token": csrf(a),
        "current_password": PASSWORD,
        "new_password": "a brand new secret",
        "confirm_password": "a brand new secret",
    }
    r = a.post("/account/password", data=form, headers=HTML)
    assert r.status_code == 200 and "密码已修改" in r.text
    assert a.get("/account", headers=HTML).status_code == 200  # this browser stays in
    gone = b.get("/account", headers=HTML, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert login(console.new_client(), "ann@x.io").status_code == 401
    assert login(console.new_client(), "ann@x.io", "a brand new secret").status_code == 303


def test_password_change_errors_are_translated(console: Console) -> None:
    console.user("ann@x.io")
    c = console.client
    login(c, "ann@x.io")
    base = {"csrf_token": csrf(c), "current_password": PASSWORD}
    r = c.post(
        "/account/password",
        data={**base, "new_password": "abcdefghijk", "confirm_password": "abcdefghijX"},
        headers=HTML,
    )
    assert r.status_code == 400 and "两次输入的新密码不一致" in r.text
    r = c.post(
        "/account/password",
        data={**base, "new_password": "short", "confirm_password": "short"},
        headers=HTML,
    )
    assert r.status_code == 400 and "至少需要 10 个字符" in r.text


@pytest.mark.parametrize("role", ["viewer", "analyst", "operator"])
def test_settings_are_admin_only(console: Console, role: str) -> None:
    pid = console.project()
    console.user("ann@x.io", role, pid)
    c = console.client
    login(c, "ann@x.io")
    token = csrf(c)
    page = c.get(f"/p/{pid}/settings", headers=HTML)
    assert page.status_code == 403 and "无权访问" in page.text
    for path, data in [
        (f"/p/{pid}/settings", {"name": "Hacked", "timezone": "UTC", "week_start": "1"}),
        (f"/p/{pid}/settings/keys", {"kind": "secret", "name": "x"}),
        (f"/p/{pid}/settings/keys/1/revoke", {}),
        (f"/p/{pid}/settings/members", {"email": "evil@x.io", "role": "owner"}),
    ]:
        assert c.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert f'href="/p/{pid}/settings"' not in c.get("/account", headers=HTML).text
    with console.db() as s:
        from yunying.db.projects import get_project, list_api_keys

        assert get_project(s, pid).name == "Demo" and len(list_api_keys(s, pid)) == 2


def test_other_projects_are_invisible(console: Console) -> None:
    mine, theirs = console.project("Mine"), console.project("Theirs")
    console.user("ann@x.io", "owner", mine)
    c = console.client
    login(c, "ann@x.io")
    assert c.get(f"/p/{mine}/settings", headers=HTML).status_code == 200
    for path in (f"/p/{theirs}/settings", f"/p/{theirs}/settings/members", "/p/999/settings"):
        r = c.get(path, headers=HTML)
        assert r.status_code == 404, path
    post = c.post(f"/p/{theirs}/settings/keys", data={"csrf_token": csrf(c), "kind": "secret"})
    assert post.status_code == 404
    assert "Theirs" not in c.get(f"/p/{mine}/settings", headers=HTML).text


def test_language_switch_is_remembered_per_user(console: Console) -> None:
    console.user("ann@x.io")
    c = console.client
    assert "登录" in c.get("/login", headers=HTML).text  # default zh-CN
    login(c, "ann@x.io")
    r = c.post(
        "/account/language",
        data={"csrf_token": csrf(c), "locale": "en", "next": "/account"},
        headers=HTML,
    )
    assert r.status_code == 200 and "Change password" in r.text
    # another browser, even one asking for Chinese, gets the stored preference
    other = console.new_client()
    login(other, "ann@x.io")
    page = other.get("/account", headers={**HTML, "accept-language": "zh-CN"})
    assert '<html lang="en">' in page.text and "Sign out" in page.text


def test_language_for_visitors_follows_cookie_then_browser(console: Console) -> None:
    c = console.client
    page = c.get("/login", headers={**HTML, "accept-language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    r = c.post(
        "/account/language",
        data={"csrf_token": csrf_from(page.text), "locale": "zh-CN", "next": "/login"},
        headers={**HTML, "accept-language": "en"},
    )
    assert '<html lang="zh-CN">' in r.text and c.cookies.get("lang") == "zh-CN"


def test_next_is_local_only(console: Console) -> None:
    console.user("ann@x.io")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = console.new_client()
        r = login(client, "ann@x.io", next=target)
        assert r.headers["location"] == "/", target
    r = login(console.new_client(), "ann@x.io", next="/account?x=1")
    assert r.headers["location"] == "/account?x=1"


def test_login_redirect_keeps_the_requested_page(console: Console) -> None:
    r = console.client.get("/p/1/settings?tab=1", headers=HTML, follow_redirects=False)
    assert r.headers["location"] == "/login?next=/p/1/settings%3Ftab%3D1"


def test_unauthenticated_htmx_and_json_get_401(console: Console) -> None:
    r = console.client.get("/account", headers={"hx-request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/login"
    r = console.client.get("/account", headers={"accept": "application/json"})
    assert r.status_code == 401 and "detail" in r.json()


def test_temporary_password_must_be_changed_first(console: Console) -> None:
    pid = console.project()
    console.user("boss@x.io", "admin", pid)
    admin = console.client
    login(admin, "boss@x.io")
    r = admin.post(
        f"/p/{pid}/settings/members",
        data={"csrf_token": csrf(admin), "email": "New@x.io", "name": "Nia", "role": "analyst"},
        headers=HTML,
    )
    assert r.status_code == 200
    temp = re.search(r'data-testid="temp-password">([^<]+)<', r.text).group(1)
    assert temp not in admin.get(f"/p/{pid}/settings/members", headers=HTML).text  # once
    new = console.new_client()
    assert login(new, "new@x.io", temp).status_code == 303
    r = new.get(f"/p/{pid}/settings/members", headers=HTML, follow_redirects=False)
    assert r.headers["location"] == "/account?required=1"
    form = {
        "csrf_token": csrf(new),
        "current_password": temp,
        "new_password": "my own password",
        "confirm_password": "my own password",
    }
    assert new.post("/account/password", data=form, headers=HTML).status_code == 200
    r = new.get("/", headers=HTML, follow_redirects=False)
    assert r.headers["location"] == f"/p/{pid}/overview"


def test_errors_for_the_api_stay_json(console: Console) -> None:
    r = console.client.get("/api/projects/999/nothing-here")
    assert r.status_code in (401, 404) and r.headers["content-type"].startswith("application/json")
    page = console.client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and 'data-testid="error-page"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_assets_are_served_locally(console: Console) -> None:
    c = console.client
    for path in ("/static/app.css", "/static/app.js", "/static/vendor/htmx-2.0.11.min.js"):
        assert c.get(path).status_code == 200, path
    plotly = c.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000
    html = c.get("/login", headers=HTML).text
    assert "http://" not in html and "https://" not in html  # no CDN


def test_writes_are_committed_before_the_response_is_sent(console: Console) -> None:
    """A browser follows the redirect at once: the new session must already be stored."""
    from sqlalchemy import func, select

    from yunying.db.models import WebSession

    console.user("ann@x.io")
    seen: list[int] = []

    async def probe(scope, receive, send):  # type: ignore[no-untyped-def]
        async def watch(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start" and scope.get("method") == "POST":
                with console.db() as s:
                    seen.append(s.scalar(select(func.count()).select_from(WebSession)) or 0)
            await send(message)

        await console.app(scope, receive, watch)

    client = TestClient(probe)  # the app is already started by the fixture
    assert login(client, "ann@x.io").status_code == 303
    assert seen == [1]
