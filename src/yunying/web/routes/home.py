"""``/``: straight to the viewer's first project."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from yunying.web.deps import ViewerDep
from yunying.web.templating import render

router = APIRouter()


@router.get("/")
def home(request: Request, viewer: ViewerDep) -> Response:
    projects = request.state.projects
    if projects:
        return RedirectResponse(f"/p/{projects[0].project_id}/overview", status_code=303)
    return render(request, "home/no_projects.html")
