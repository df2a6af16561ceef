"""The console's cookies, in one place so their flags cannot drift apart.

- ``yy_session``: the session token (HttpOnly, SameSite=Lax, Secure on https or when
  ``YUNYING_COOKIE_SECURE`` is set). Only its SHA-256 is stored server-side.
- ``yy_csrf``: a random token for forms shown before sign-in (double-submit check).
- ``lang``: the chosen language for visitors who are not signed in.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Request, Response
from starlette.datastructures import MutableHeaders

SESSION_COOKIE = "yy_session"
CSRF_COOKIE = "yy_csrf"
LANG_COOKIE = "lang"
LANG_MAX_AGE = 365 * 24 * 3600


def is_secure(request: Request) -> bool:
    settings = request.app.state.yunying.settings
    return request.url.scheme == "https" or bool(settings.cookie_secure)


def set_session_cookie(
    response: Response, request: Request, token: str, expires_at: datetime
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires_at,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_secure(request)
    )


def set_lang_cookie(response: Response, request: Request, locale: str | None) -> None:
    if locale is None:
        response.delete_cookie(LANG_COOKIE, path="/", samesite="lax")
        return
    response.set_cookie(
        LANG_COOKIE, locale, max_age=LANG_MAX_AGE, path="/", samesite="lax",
        secure=is_secure(request),
    )  # fmt: skip


def csrf_cookie_header(token: str, secure: bool) -> str:
    """A raw Set-Cookie value (the middleware adds it to responses it did not build)."""
    flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    return f"{CSRF_COOKIE}={token}{flags}"


def expired_session_header(secure: bool) -> str:
    flags = "; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    return f'{SESSION_COOKIE}=""{flags}'


def sets_cookie(headers: MutableHeaders, name: str) -> bool:
    return any(v.startswith(f"{name}=") for v in headers.getlist("set-cookie"))
