"""Project settings (admin+): general settings and API keys. Members are in members.py."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yunying.db.projects import (
    NewKey,
    ProjectError,
    create_api_key,
    get_project,
    list_api_keys,
    revoke_api_key,
    update_project,
)
from yunying.web.deps import AdminAccessDep, SessionDep
from yunying.web.templating import render

router = APIRouter()

_NOTICES = {"saved": "settings.general.saved", "revoked": "settings.keys.revoked"}
_FIELDS = ("name", "timezone", "week_start", "revenue_property", "kind", "key_id")


def project_error_key(exc: ProjectError) -> str:
    """``ProjectError`` messages start with the field name; map it to a catalog key."""
    field = str(exc).split(":", 1)[0].strip()
    if "last active secret key" in str(exc):
        return "settings.error.last_secret_key"
    return f"settings.error.{field}" if field in _FIELDS else "settings.error.invalid"


def _timezones() -> list[str]:
    return sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC")


def _general(
    request: Request, session: SessionDep, access: AdminAccessDep, *,
    status_code: int = 200, message: str | None = None, error: str | None = None,
    form: dict[str, object] | None = None,
) -> Response:  # fmt: skip
    project = get_project(session, access.project_id)
    values = {
        "name": project.name,
        "timezone": project.timezone,
        "week_start": project.week_start,
        "activation_event": project.activation_event or "",
        "revenue_property": project.revenue_property,
        **(form or {}),
    }
    return render(
        request, "settings/general.html", status_code=status_code,
        tab="general", values=values, timezones=_timezones(), message=message, error=error,
    )  # fmt: skip


@router.get("/p/{project_id}/settings")
def general(request: Request, access: AdminAccessDep, session: SessionDep, notice: str = ""):
    return _general(request, session, access, message=_NOTICES.get(notice))


@router.post("/p/{project_id}/settings")
def save_general(
    request: Request,
    access: AdminAccessDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    week_start: Annotated[int, Form()] = 1,
    activation_event: Annotated[str, Form()] = "",
    revenue_property: Annotated[str, Form()] = "",
) -> Response:
    changes = {
        "name": name,
        "timezone": timezone,
        "week_start": week_start,
        "activation_event": activation_event,
        "revenue_property": revenue_property,
    }
    try:
        update_project(session, project=get_project(session, access.project_id), changes=changes)
    except ProjectError as exc:
        session.rollback()  # update_project may have applied some fields before failing
        return _general(
            request, session, access, status_code=400, error=project_error_key(exc), form=changes
        )
    return RedirectResponse(f"/p/{access.project_id}/settings?notice=saved", status_code=303)


def _keys(
    request: Request, session: SessionDep, access: AdminAccessDep, *,
    status_code: int = 200, message: str | None = None, error: str | None = None,
    new_key: NewKey | None = None,
) -> Response:  # fmt: skip
    return render(
        request, "settings/keys.html", status_code=status_code, tab="keys",
        keys=list_api_keys(session, access.project_id), new_key=new_key,
        message=message, error=error,
    )  # fmt: skip


@router.get("/p/{project_id}/settings/keys")
def keys(request: Request, access: AdminAccessDep, session: SessionDep, notice: str = ""):
    return _keys(request, session, access, message=_NOTICES.get(notice))


@router.post("/p/{project_id}/settings/keys")
def create_key(
    request: Request,
    access: AdminAccessDep,
    session: SessionDep,
    kind: Annotated[str, Form()] = "secret",
    name: Annotated[str, Form()] = "",
) -> Response:
    """The new key's full text is in this one response and never again."""
    try:
        new_key = create_api_key(
            session, project_id=access.project_id, kind=kind, name=name.strip()[:200]
        )
    except ProjectError as exc:
        return _keys(request, session, access, status_code=400, error=project_error_key(exc))
    return _keys(request, session, access, message="settings.keys.created", new_key=new_key)


@router.post("/p/{project_id}/settings/keys/{key_id}/revoke")
def revoke_key(
    request: Request, access: AdminAccessDep, session: SessionDep, key_id: int
) -> Response:
    try:
        revoke_api_key(session, project_id=access.project_id, key_id=key_id)
    except ProjectError as exc:
        return _keys(request, session, access, status_code=400, error=project_error_key(exc))
    return RedirectResponse(f"/p/{access.project_id}/settings/keys?notice=revoked", status_code=303)
