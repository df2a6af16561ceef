"""Per-request console state: who is signed in, which language, which CSRF token.

A plain ASGI middleware (not a dependency) so that every response - including error
pages for unknown URLs - knows the viewer's language. It touches the database only when
the request carries a session cookie, and skips the API, ingest-free static files and
health checks entirely.

Sets on ``request.state``: ``user`` (Viewer | None), ``session_id`` (int | None),
``projects`` (list[ProjectRole]), ``locale`` (str), ``csrf_token`` (str).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yunying.accounts.members import ProjectRole, user_projects
from yunying.accounts.sessions import SessionPolicy, resolve_session
from yunying.db.session import session_scope
from yunying.web.access import Viewer
from yunying.web.cookies import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    csrf_cookie_header,
    expired_session_header,
    sets_cookie,
)
from yunying.web.i18n import negotiate, normalize

SKIP_PREFIXES = ("/static/", "/api/", "/healthz", "/docs", "/redoc", "/openapi.json")
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)  # 'unsafe-eval': Plotly builds some functions at run time; inline scripts stay banned


@dataclass
class _Loaded:
    viewer: Viewer | None = None
    session_id: int | None = None
    csrf: str | None = None
    projects: list[ProjectRole] = field(default_factory=list)


def _load(app_state, token: str) -> _Loaded:  # type: ignore[no-untyped-def]
    policy = SessionPolicy.from_settings(app_state.settings)
    with session_scope(app_state.sessions) as session:
        active = resolve_session(session=session, token=token, policy=policy)
        if active is None:
            return _Loaded()
        u = active.user
        viewer = Viewer(u.id, u.email, u.name, u.locale, u.must_change_password)
        return _Loaded(viewer, active.id, active.csrf_token, user_projects(session, u.id))


class ConsoleStateMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SKIP_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        app_state = request.app.state.yunying
        token = request.cookies.get(SESSION_COOKIE, "")
        loaded = await anyio.to_thread.run_sync(_load, app_state, token) if token else _Loaded()
        viewer = loaded.viewer
        state = request.state
        state.user = viewer
        state.session_id = loaded.session_id
        state.projects = loaded.projects
        state.access = None
        state.locale = (
            (viewer and normalize(viewer.locale))
            or normalize(request.cookies.get(LANG_COOKIE))
            or negotiate(request.headers.get("accept-language"))
        )
        new_csrf = None
        if loaded.csrf:
            state.csrf_token = loaded.csrf
        else:
            cookie = request.cookies.get(CSRF_COOKIE, "")
            if 20 <= len(cookie) <= 100 and cookie.replace("-", "").replace("_", "").isalnum():
                state.csrf_token = cookie
            else:
                state.csrf_token = new_csrf = secrets.token_urlsafe(32)
        secure = scope.get("scheme") == "https" or bool(app_state.settings.cookie_secure)
        stale = bool(token) and viewer is None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                if new_csrf and html and not sets_cookie(headers, CSRF_COOKIE):
                    headers.append("set-cookie", csrf_cookie_header(new_csrf, secure))
                if stale and not sets_cookie(headers, SESSION_COOKIE):
                    headers.append("set-cookie", expired_session_header(secure))
                if html:
                    headers.setdefault("content-security-policy", CSP)
                    headers.setdefault("x-frame-options", "DENY")
                    headers.setdefault("referrer-policy", "same-origin")
                    headers.setdefault("cache-control", "no-store")
                headers.setdefault("x-content-type-options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_wrapper)
