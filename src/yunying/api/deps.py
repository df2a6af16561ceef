"""Typed dependencies: the app state, a DB session, and the authenticated project.

Secret keys authenticate everything under ``/api/``; a key only ever opens its own
project (a key for project A asking for project B gets 404, so ids are not probeable).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from yunying.api.state import AppState
from yunying.db.models import Project
from yunying.db.projects import project_for_key

_bearer = HTTPBearer(auto_error=False, description="A project's secret API key.")


def get_state(request: Request) -> AppState:
    return request.app.state.yunying


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    session = state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a client that acts on the
# response (a redirect, a retry) always sees the change.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def secret_project(
    project_id: int,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Project:
    """The project named in the path, if the bearer secret key belongs to it."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401, detail="missing API key: send 'Authorization: Bearer <secret key>'"
        )
    project = project_for_key(session, credentials.credentials, kinds=("secret",))
    if project is None:
        raise HTTPException(401, detail="invalid or revoked secret API key")
    if project.id != project_id:
        raise HTTPException(404, detail=f"project {project_id} not found")
    return project


SecretProjectDep = Annotated[Project, Depends(secret_project)]
