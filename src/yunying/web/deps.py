"""FastAPI dependencies for console routes: the viewer, project access, CSRF.

Usage in a page module::

    @router.get("/p/{project_id}/overview")
    def overview(request: Request, access: ProjectAccessDep, session: SessionDep):
        return render(request, "overview/index.html", ...)

- ``ViewerDep``: the signed-in viewer (pages redirect to /login; htmx and JSON get 401).
- ``ProjectAccessDep`` (viewer+), ``AnalystAccessDep``, ``OperatorAccessDep``,
  ``AdminAccessDep``, ``OwnerAccessDep``: the viewer inside ``{project_id}``; 404 when
  not a member (the project's existence is not revealed), 403 when the role is too low.
- ``csrf_protect`` runs on every console route (``mount_console`` adds it to each
  router), so unsafe methods without the right token get 403 and no route can forget it.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from yunying.accounts.members import project_membership
from yunying.api.deps import StateDep, get_session
from yunying.db.projects import context_for
from yunying.web.access import ProjectAccess, Role, Viewer, allows
from yunying.web.errors import LoginRequired, PageError, PasswordChangeRequired

__all__ = [
    "AdminAccessDep",
    "AnalystAccessDep",
    "OperatorAccessDep",
    "OwnerAccessDep",
    "ProjectAccessDep",
    "SessionDep",
    "StateDep",
    "ViewerDep",
    "csrf_protect",
    "current_viewer",
    "project_access",
]

# Committed before the response is sent (scope="function"), so the page a redirect leads
# to - or the next click - always sees what this request wrote (a new sign-in session,
# saved settings). FastAPI's default would commit only after the response went out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages a viewer with a temporary password may still open.
_TEMPORARY_PASSWORD_OK = ("/account", "/logout", "/login")


def current_viewer(request: Request) -> Viewer:
    viewer = getattr(request.state, "user", None)
    if viewer is None:
        raise LoginRequired()
    if viewer.must_change_password and not request.url.path.startswith(_TEMPORARY_PASSWORD_OK):
        raise PasswordChangeRequired()
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def project_access(min_role: Role = "viewer"):  # type: ignore[no-untyped-def]
    """A dependency giving the viewer's ``ProjectAccess`` to ``{project_id}``."""

    def dependency(
        project_id: int, request: Request, viewer: ViewerDep, session: SessionDep
    ) -> ProjectAccess:
        found = project_membership(session, user_id=viewer.user_id, project_id=project_id)
        if found is None:
            raise PageError(404)
        role, project = found
        access = ProjectAccess(viewer, project.id, project.name, role, context_for(project))
        request.state.access = access  # the layout shows the project nav from this
        if not allows(role, min_role):
            raise PageError(403)
        return access

    return dependency


ProjectAccessDep = Annotated[ProjectAccess, Depends(project_access("viewer"))]
AnalystAccessDep = Annotated[ProjectAccess, Depends(project_access("analyst"))]
OperatorAccessDep = Annotated[ProjectAccess, Depends(project_access("operator"))]
AdminAccessDep = Annotated[ProjectAccess, Depends(project_access("admin"))]
OwnerAccessDep = Annotated[ProjectAccess, Depends(project_access("owner"))]


async def csrf_protect(request: Request) -> None:
    """403 for an unsafe method unless ``X-CSRF-Token`` or form field ``csrf_token``
    matches this viewer's token (the session's, or the pre-sign-in cookie's)."""
    if request.method in SAFE_METHODS:
        return
    expected = getattr(request.state, "csrf_token", "") or ""
    supplied = request.headers.get("x-csrf-token", "")
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            supplied = value if isinstance(value, str) else ""
    if not expected or not supplied or not hmac.compare_digest(expected, supplied):
        raise PageError(403, "core.error.csrf")
