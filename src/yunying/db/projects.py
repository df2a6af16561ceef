"""Projects and their API keys (service functions; the shells call these).

A project has one or more public keys (write-only ingest; safe to ship in apps) and
secret keys (everything else). Keys are looked up by SHA-256 digest, so a leaked database
does not leak usable secret keys.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.db.models import ApiKey, Project

PUBLIC_PREFIX = "phc_"  # PostHog's public-key shape, so SDK snippets look familiar
SECRET_PREFIX = "yys_"


class ProjectError(ValueError):
    """Invalid project settings; the message names the field."""


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: the only moment its full text exists outside the app."""

    id: int
    kind: str
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProjectError(f"timezone: unknown time zone {tz!r}") from exc
    return tz


def validate_week_start(week_start: int) -> int:
    if week_start not in (1, 7):
        raise ProjectError("week_start: must be 1 (Monday) or 7 (Sunday)")
    return week_start


def create_project(
    session: Session, *, name: str, timezone: str = "Asia/Shanghai", week_start: int = 1
) -> tuple[Project, NewKey, NewKey]:
    """A project with one public and one secret key."""
    if not name.strip():
        raise ProjectError("name: must not be empty")
    project = Project(
        name=name.strip(),
        timezone=validate_timezone(timezone),
        week_start=validate_week_start(week_start),
    )
    session.add(project)
    session.flush()
    public = create_api_key(session, project_id=project.id, kind="public", name="default")
    secret = create_api_key(session, project_id=project.id, kind="secret", name="default")
    return project, public, secret


def create_api_key(session: Session, *, project_id: int, kind: str, name: str = "") -> NewKey:
    if kind not in ("public", "secret"):
        raise ProjectError("kind: must be 'public' or 'secret'")
    token = (PUBLIC_PREFIX if kind == "public" else SECRET_PREFIX) + secrets.token_urlsafe(32)
    key = ApiKey(
        project_id=project_id,
        kind=kind,
        name=name,
        lookup=_digest(token),
        prefix=token[:10],
        public_token=token if kind == "public" else None,
    )
    session.add(key)
    session.flush()
    return NewKey(key.id, kind, token)


def revoke_api_key(
    session: Session, *, project_id: int, key_id: int, keep_one_secret: bool = True
) -> ApiKey:
    """Revoke a key (idempotent). By default the last live secret key is kept, because
    without one the project can no longer be reached through the API."""
    key = session.get(ApiKey, key_id)
    if key is None or key.project_id != project_id:
        raise ProjectError(f"key_id: no key {key_id} in project {project_id}")
    if key.revoked_at is not None:
        return key
    if keep_one_secret and key.kind == "secret":
        live = [k for k in list_api_keys(session, project_id) if k.kind == "secret"]
        if len([k for k in live if k.revoked_at is None]) <= 1:
            raise ProjectError(
                f"key_id: key {key_id} is the project's last active secret key; "
                "create another secret key first"
            )
    key.revoked_at = datetime.now(UTC)
    session.flush()
    return key


def list_api_keys(session: Session, project_id: int) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.id))
    )


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise ProjectError(f"project: no project with id {project_id}")
    return project


def find_project(session: Session, ref: str | int | None) -> Project:
    """A project by id or exact name; with no ``ref``, the only project there is."""
    if ref is None or ref == "":
        projects = list_projects(session)
        if len(projects) == 1:
            return projects[0]
        if not projects:
            raise ProjectError("project: there is no project yet (run `yunying init`)")
        names = ", ".join(f"{p.id} ({p.name})" for p in projects)
        raise ProjectError(f"project: there are several projects, pick one of: {names}")
    text = str(ref).strip()
    if text.isdigit():
        return get_project(session, int(text))
    matches = list(session.scalars(select(Project).where(Project.name == text)))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ProjectError(f"project: no project named {text!r}")
    raise ProjectError(f"project: several projects are named {text!r}; use the id")


_UPDATABLE = ("name", "timezone", "week_start", "activation_event", "revenue_property")


def update_project(session: Session, *, project: Project, changes: Mapping[str, Any]) -> Project:
    """Apply validated setting changes (``None`` leaves a field as it is)."""
    for field, value in changes.items():
        if field not in _UPDATABLE:
            raise ProjectError(f"{field}: cannot be changed")
        if value is None:
            continue
        if field == "name":
            if not str(value).strip():
                raise ProjectError("name: must not be empty")
            value = str(value).strip()
        elif field == "timezone":
            validate_timezone(value)
        elif field == "week_start":
            validate_week_start(value)
        elif field == "activation_event":
            value = str(value).strip() or None
        elif field == "revenue_property" and not str(value).strip():
            raise ProjectError("revenue_property: must not be empty")
        setattr(project, field, value)
    session.flush()
    return project


def project_for_key(session: Session, token: str, *, kinds: tuple[str, ...]) -> Project | None:
    """The project a live key of one of ``kinds`` belongs to, or None."""
    if not token:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.lookup == _digest(token)))
    if key is None or key.revoked_at is not None or key.kind not in kinds:
        return None
    return key.project


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.id)))


def public_keys(session: Session, project_id: int) -> list[str]:
    rows = session.scalars(
        select(ApiKey.public_token).where(
            ApiKey.project_id == project_id,
            ApiKey.kind == "public",
            ApiKey.revoked_at.is_(None),
        )
    )
    return [r for r in rows if r]


def context_for(project: Project) -> ProjectContext:
    """The analytics view of a project (analytics never touches the ORM)."""
    return ProjectContext(
        project_id=project.id,
        timezone=project.timezone,
        week_start=project.week_start,
        activation_event=project.activation_event,
        revenue_property=project.revenue_property,
    )
