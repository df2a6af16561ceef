"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yunying.accounts.ratelimit import RateLimit
from yunying.accounts.sessions import SessionPolicy, end_session
from yunying.accounts.signin import sign_in
from yunying.web.cookies import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from yunying.web.deps import SessionDep, StateDep
from yunying.web.routes._forms import client_address, safe_next
from yunying.web.templating import render

router = APIRouter()


def _login_page(
    request: Request,
    *,
    status_code: int = 200,
    email: str = "",
    next_url: str = "/",
    error: str | None = None,
    info: str | None = None,
    **error_params: object,
) -> Response:
    return render(
        request, "auth/login.html", status_code=status_code,
        email=email, next_url=next_url, error=error, error_params=error_params, info=info,
    )  # fmt: skip


@router.get("/login")
def login_form(request: Request, next: str = "/", signed_out: int = 0) -> Response:
    if request.state.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    info = "auth.login.signed_out" if signed_out else None
    return _login_page(request, next_url=safe_next(next), info=info)


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    result = sign_in(
        session=session,
        email=email,
        password=password,
        client=client_address(request),
        limit=RateLimit.from_settings(state.settings),
        policy=SessionPolicy.from_settings(state.settings),
    )
    target = safe_next(next)
    if result.outcome == "limited":
        minutes = max(1, (result.retry_after + 59) // 60)
        response = _login_page(
            request, status_code=429, email=email, next_url=target,
            error="auth.error.rate_limited", minutes=minutes,
        )  # fmt: skip
        response.headers["Retry-After"] = str(result.retry_after)
        return response
    if result.session is None:
        return _login_page(
            request, status_code=401, email=email, next_url=target,
            error="auth.error.bad_credentials",
        )  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, result.session.token, result.session.expires_at)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    end_session(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session_cookie(response, request)
    return response
