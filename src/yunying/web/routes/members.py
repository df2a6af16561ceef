"""Project members (admin+): invite by email, change roles, remove.

The rules (admins manage only roles below admin, the last owner stays) live in
``yunying.accounts.roles``; this module only maps outcomes to pages.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yunying.accounts.errors import AccountError
from yunying.accounts.members import (
    Invitation,
    invite_member,
    list_members,
    remove_member,
    set_role,
)
from yunying.accounts.roles import assignable_roles
from yunying.web.deps import AdminAccessDep, SessionDep
from yunying.web.templating import render

router = APIRouter()

_NOTICES = {"role": "settings.members.role_changed", "removed": "settings.members.removed"}


def _page(
    request: Request, session: SessionDep, access: AdminAccessDep, *,
    status_code: int = 200, message: str | None = None, error: str | None = None,
    error_params: dict[str, object] | None = None, invitation: Invitation | None = None,
    form: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    return render(
        request, "settings/members.html", status_code=status_code, tab="members",
        members=list_members(session, access.project_id),
        assignable=assignable_roles(access.role), message=message, error=error,
        error_params=error_params or {}, invitation=invitation,
        form=form or {"email": "", "name": "", "role": "viewer"},
    )  # fmt: skip


@router.get("/p/{project_id}/settings/members")
def members(request: Request, access: AdminAccessDep, session: SessionDep, notice: str = ""):
    return _page(request, session, access, message=_NOTICES.get(notice))


@router.post("/p/{project_id}/settings/members")
def invite(
    request: Request,
    access: AdminAccessDep,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "viewer",
) -> Response:
    """A new account's temporary password is shown in this one response only."""
    try:
        invitation = invite_member(
            session=session, project_id=access.project_id, email=email, name=name,
            role=role, actor_role=access.role,
        )  # fmt: skip
    except AccountError as exc:
        session.rollback()
        form = {"email": email, "name": name, "role": role}
        return _page(
            request, session, access, status_code=400, error=exc.key,
            error_params=exc.params, form=form,
        )  # fmt: skip
    return _page(
        request, session, access, message="settings.members.invited", invitation=invitation
    )


def _refused(request, session, access, exc: AccountError) -> Response:  # type: ignore[no-untyped-def]
    session.rollback()
    return _page(request, session, access, status_code=400, error=exc.key, error_params=exc.params)


@router.post("/p/{project_id}/settings/members/{user_id}/role")
def change_role(
    request: Request,
    access: AdminAccessDep,
    session: SessionDep,
    user_id: int,
    role: Annotated[str, Form()] = "",
) -> Response:
    try:
        set_role(
            session=session, project_id=access.project_id, user_id=user_id, role=role,
            actor_role=access.role,
        )  # fmt: skip
    except AccountError as exc:
        return _refused(request, session, access, exc)
    if user_id == access.viewer.user_id and role not in ("admin", "owner"):
        return RedirectResponse(f"/p/{access.project_id}/overview", status_code=303)
    return RedirectResponse(f"/p/{access.project_id}/settings/members?notice=role", status_code=303)


@router.post("/p/{project_id}/settings/members/{user_id}/remove")
def remove(request: Request, access: AdminAccessDep, session: SessionDep, user_id: int) -> Response:
    try:
        remove_member(
            session=session, project_id=access.project_id, user_id=user_id,
            actor_role=access.role,
        )  # fmt: skip
    except AccountError as exc:
        return _refused(request, session, access, exc)
    if user_id == access.viewer.user_id:
        return RedirectResponse("/", status_code=303)
    return RedirectResponse(
        f"/p/{access.project_id}/settings/members?notice=removed", status_code=303
    )
