"""Console fixtures: an app on a temporary data dir, people with roles, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from yunying.accounts.members import add_member
from yunying.accounts.users import create_user
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project
from yunying.db.session import session_scope

PASSWORD = "correct horse battery"
HTML = {"accept": "text/html"}


@dataclass
class Console:
    app: FastAPI
    client: TestClient

    def db(self):  # type: ignore[no-untyped-def]
        return session_scope(self.app.state.yunying.sessions)

    def project(self, name: str = "Demo") -> int:
        with self.db() as s:
            project, _, _ = create_project(s, name=name)
            return project.id

    def user(self, email: str, role: str | None = None, project_id: int | None = None) -> int:
        with self.db() as s:
            user = create_user(session=s, email=email, password=PASSWORD, name=email[:3])
            if role is not None and project_id is not None:
                add_member(session=s, project_id=project_id, user_id=user.id, role=role)
            return user.id

    def new_client(self) -> TestClient:
        return TestClient(self.app)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    page = client.get("/login", headers=HTML)
    data = {"email": email, "password": password, "csrf_token": csrf_from(page.text), **extra}
    return client.post("/login", data=data, headers=HTML, follow_redirects=False)


def csrf(client: TestClient, path: str = "/account") -> str:
    """The signed-in client's CSRF token, read from a page as a browser would."""
    return csrf_from(client.get(path, headers=HTML).text)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def console(settings: Settings) -> Iterator[Console]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Console(app, client)
