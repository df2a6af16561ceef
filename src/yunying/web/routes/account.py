"""The signed-in user's own account: password change and language."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yunying.accounts.errors import AccountError
from yunying.accounts.users import MIN_PASSWORD_LENGTH, change_password, set_locale
from yunying.web.cookies import set_lang_cookie
from yunying.web.deps import SessionDep, ViewerDep
from yunying.web.i18n import normalize
from yunying.web.routes._forms import safe_next
from yunying.web.templating import render

router = APIRouter()


def _page(
    request: Request,
    *,
    status_code: int = 200,
    message: str | None = None,
    error: str | None = None,
    error_params: dict[str, object] | None = None,
    required: bool = False,
) -> Response:
    return render(
        request, "account/index.html", status_code=status_code,
        message=message, error=error, error_params=error_params or {}, required=required,
        min_length=MIN_PASSWORD_LENGTH,
    )  # fmt: skip


@router.get("/account")
def account(request: Request, viewer: ViewerDep, required: int = 0, saved: str = "") -> Response:
    message = {"language": "auth.account.language_saved"}.get(saved)
    return _page(request, message=message, required=bool(required or viewer.must_change_password))


@router.post("/account/password")
def password(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    if new_password != confirm_password:
        return _page(request, status_code=400, error="auth.error.password_mismatch")
    try:
        change_password(
            session=session,
            user_id=viewer.user_id,
            current_password=current_password,
            new_password=new_password,
            keep_session_id=request.state.session_id,
        )
    except AccountError as exc:
        return _page(request, status_code=400, error=exc.key, error_params=exc.params)
    # The page shown next must not still carry the "temporary password" state.
    request.state.user = replace(viewer, must_change_password=False)
    return _page(request, message="auth.account.password_changed")


@router.post("/account/language")
def language(
    request: Request,
    session: SessionDep,
    locale: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Works signed in (remembered on the user) and signed out (cookie only)."""
    chosen = normalize(locale)
    viewer = request.state.user
    if viewer is not None:
        set_locale(session=session, user_id=viewer.user_id, locale=chosen)
    target = safe_next(next)
    if target == "/account":
        target = "/account?saved=language"
    response = RedirectResponse(target, status_code=303)
    set_lang_cookie(response, request, chosen)
    return response
