"""Projects and their API keys (service functions; the shells call these).

A project has one or more public keys (write-only ingest; safe to ship in apps) and
secret keys (everything else). Keys are looked up by SHA-256 digest, so a leaked database
does not leak usable secret keys.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
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


def revoke_api_key(session: Session, *, project_id: int, key_id: int) -> None:
    key = session.get(ApiKey, key_id)
    if key is None or key.project_id != project_id:
        raise ProjectError(f"key_id: no key {key_id} in this project")
    key.revoked_at = datetime.now(UTC)


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
