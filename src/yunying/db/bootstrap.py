"""First run: migrate the operational store and create the default project and its keys.

Why a credentials file: the secret key exists in clear text only at creation, and a first
run usually prints it into a scrolling terminal; a file readable only by its owner keeps
it from being lost without keeping it anywhere others can read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from yunying.accounts.members import bootstrap_owner
from yunying.config import Settings
from yunying.db.migrate import upgrade
from yunying.db.projects import (
    create_project,
    list_projects,
    public_keys,
    validate_timezone,
    validate_week_start,
)
from yunying.db.session import make_engine, make_sessionmaker, session_scope

CREDENTIALS_FILE = "first-run-credentials.txt"


@dataclass(frozen=True)
class BootstrapResult:
    created: bool  # False: the store already had a project, nothing was changed
    project_id: int
    project_name: str
    timezone: str
    public_key: str | None
    secret_key: str | None  # only when created: it is never readable again
    credentials_path: Path
    owner_email: str | None = None  # console sign-in, only when created
    owner_password: str | None = None


def credentials_path(settings: Settings) -> Path:
    return settings.data_dir / CREDENTIALS_FILE


def bootstrap(
    settings: Settings,
    *,
    project_name: str = "Default",
    timezone: str | None = None,
    week_start: int = 1,
) -> BootstrapResult:
    """Create the data folder, migrate, and (on an empty store) the first project."""
    validate_timezone(timezone or settings.default_timezone)  # before anything is created
    validate_week_start(week_start)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            existing = list_projects(session)
            if existing:
                first = existing[0]
                keys = public_keys(session, first.id)
                return BootstrapResult(
                    False, first.id, first.name, first.timezone, keys[0] if keys else None, None,
                    credentials_path(settings),
                )  # fmt: skip
            project, public, secret = create_project(
                session,
                name=project_name,
                timezone=timezone or settings.default_timezone,
                week_start=week_start,
            )
            owner = bootstrap_owner(session=session, project_id=project.id)
            owner_email, owner_password = owner if owner else (None, None)
            path = credentials_path(settings)
            # Written inside the transaction: if the file cannot be written, no project
            # is created and ``init`` can simply be run again.
            write_credentials(
                path, project.id, project.name, public.token, secret.token,
                owner_email, owner_password,
            )  # fmt: skip
            return BootstrapResult(
                True, project.id, project.name, project.timezone, public.token, secret.token,
                path, owner_email, owner_password,
            )  # fmt: skip
    finally:
        engine.dispose()


def write_credentials(
    path: Path,
    project_id: int,
    project_name: str,
    public_key: str,
    secret_key: str,
    owner_email: str | None = None,
    owner_password: str | None = None,
) -> None:
    """Write the first keys (and console owner) to ``path`` with mode 0600."""
    text = (
        "# Yunying first-run credentials. Keep this file private; delete it once the\n"
        "# secret key is stored somewhere safe (it cannot be shown again).\n"
        f"# created: {datetime.now(UTC).isoformat(timespec='seconds')}\n"
        f"project_id={project_id}\n"
        f"project_name={project_name}\n"
        f"public_key={public_key}\n"
        f"secret_key={secret_key}\n"
    )
    if owner_email and owner_password:
        text += f"console_email={owner_email}\nconsole_password={owner_password}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the mode above only applies when the file is new
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
