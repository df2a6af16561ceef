"""Console errors and how they are shown.

Page code raises ``PageError(status, key)``; the handler renders a translated error page
(or JSON for API-style callers). ``LoginRequired`` becomes a redirect to /login for a
page, an ``HX-Redirect`` for htmx, and a 401 JSON body otherwise. Plain HTTP errors
(unknown URL, wrong method) get the translated page only when the client asks for HTML,
so the JSON API keeps its usual error bodies.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from yunying.web.i18n import translate
from yunying.web.templating import render

_STATUS_KEYS = {
    400: "core.error.bad_request",
    401: "core.error.unauthorized",
    403: "core.error.forbidden",
    404: "core.error.not_found",
    405: "core.error.method_not_allowed",
    429: "core.error.too_many_requests",
}


class PageError(Exception):
    """An error page: ``key`` is the message-catalog key of the explanation."""

    def __init__(self, status_code: int, key: str | None = None, /, **params: object) -> None:
        super().__init__(key)
        self.status_code = status_code
        self.key = key or _STATUS_KEYS.get(status_code, "core.error.generic")
        self.params = params


class LoginRequired(Exception):
    """The request needs a signed-in viewer."""


class PasswordChangeRequired(Exception):
    """The viewer signed in with a temporary password and must set their own first."""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "") or is_htmx(request)


def _locale(request: Request) -> str:
    return getattr(request.state, "locale", "zh-CN")


def error_page(request: Request, status_code: int, key: str, **params: object) -> Response:
    if not wants_html(request) and not is_htmx(request):
        message = translate(_locale(request), key, **params)
        return JSONResponse({"detail": message}, status_code=status_code)
    return render(
        request, "error.html", status_code=status_code,
        error_status=status_code, error_key=key, error_params=params,
    )  # fmt: skip


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    response = error_page(request, exc.status_code, exc.key, **exc.params)
    if exc.status_code == 429 and "retry_after" in exc.params:
        response.headers["Retry-After"] = str(exc.params["retry_after"])
    return response


async def _login_required(request: Request, exc: Exception) -> Response:
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    if not wants_html(request):
        message = translate(_locale(request), "core.error.unauthorized")
        return JSONResponse({"detail": message}, status_code=401)
    target = "/login"
    if request.method == "GET" and request.url.path != "/":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(path, safe="/")
    return RedirectResponse(target, status_code=303)


async def _password_change(request: Request, exc: Exception) -> Response:
    if is_htmx(request):
        return Response(status_code=403, headers={"HX-Redirect": "/account"})
    return RedirectResponse("/account?required=1", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_html(request) and exc.status_code in _STATUS_KEYS:
        return error_page(request, exc.status_code, _STATUS_KEYS[exc.status_code])
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PasswordChangeRequired, _password_change)
    app.add_exception_handler(StarletteHTTPException, _http_error)
