"""Project settings and API keys over HTTP (secret-key auth, one project per key)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from yunying.api.deps import SecretProjectDep, SessionDep
from yunying.db import projects as svc
from yunying.db.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ProjectPublic,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/projects", tags=["projects"])


def _key_public(key: object) -> ApiKeyPublic:
    view = ApiKeyPublic.model_validate(key)
    return view.model_copy(update={"token": getattr(key, "public_token", None)})


def _bad_request(exc: svc.ProjectError, code: int = status.HTTP_400_BAD_REQUEST) -> HTTPException:
    """``{"detail": "field: message"}``, the message starting with the field it is about."""
    return HTTPException(code, detail=str(exc))


@router.get("/{project_id}", response_model=ProjectPublic, summary="Get a project")
def get_project(project: SecretProjectDep) -> ProjectPublic:
    return ProjectPublic.model_validate(project)


@router.patch("/{project_id}", response_model=ProjectPublic, summary="Update project settings")
def update_project(
    changes: ProjectUpdate, project: SecretProjectDep, session: SessionDep
) -> ProjectPublic:
    """Change time zone, week start, activation event or revenue property.

    Fields left out keep their value; an empty ``activation_event`` clears it.
    """
    try:
        svc.update_project(session, project=project, changes=changes.model_dump(exclude_unset=True))
    except svc.ProjectError as exc:
        raise _bad_request(exc) from exc
    return ProjectPublic.model_validate(project)


@router.get("/{project_id}/keys", response_model=list[ApiKeyPublic], summary="List API keys")
def list_keys(project: SecretProjectDep, session: SessionDep) -> list[ApiKeyPublic]:
    return [_key_public(k) for k in svc.list_api_keys(session, project.id)]


@router.post(
    "/{project_id}/keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (its text is returned only here)",
)
def create_key(body: ApiKeyCreate, project: SecretProjectDep, session: SessionDep) -> ApiKeyCreated:
    new = svc.create_api_key(session, project_id=project.id, kind=body.kind, name=body.name)
    return ApiKeyCreated(id=new.id, kind=body.kind, name=body.name, token=new.token)


@router.delete(
    "/{project_id}/keys/{key_id}",
    response_model=ApiKeyPublic,
    summary="Revoke an API key",
)
def revoke_key(key_id: int, project: SecretProjectDep, session: SessionDep) -> ApiKeyPublic:
    """Revoke a key. The last active secret key cannot be revoked (409): create another
    first, or the project could no longer be reached through the API."""
    try:
        key = svc.revoke_api_key(session, project_id=project.id, key_id=key_id)
    except svc.ProjectError as exc:
        if "no key" in str(exc):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail=f"key {key_id} not found"
            ) from exc
        raise _bad_request(exc, status.HTTP_409_CONFLICT) from exc
    return _key_public(key)
