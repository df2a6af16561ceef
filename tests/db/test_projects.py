"""Project and key service functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from yunying.db import projects as svc
from yunying.db.schemas import ProjectUpdate


def test_create_project_with_keys(session: Session) -> None:
    project, public, secret = svc.create_project(session, name=" Shop ", timezone="UTC")
    session.commit()
    assert project.name == "Shop"
    assert public.token.startswith(svc.PUBLIC_PREFIX)
    assert secret.token.startswith(svc.SECRET_PREFIX)
    assert svc.project_for_key(session, secret.token, kinds=("secret",)).id == project.id
    assert svc.project_for_key(session, public.token, kinds=("secret",)) is None
    assert svc.project_for_key(session, public.token, kinds=("public",)).id == project.id
    assert svc.public_keys(session, project.id) == [public.token]
    listed = svc.list_api_keys(session, project.id)
    assert [k.kind for k in listed] == ["public", "secret"]
    assert listed[1].public_token is None  # a secret key's text is never stored
    assert secret.token not in {k.lookup for k in listed}


def test_revoke_keeps_the_last_secret_key(session: Session) -> None:
    project, _, secret = svc.create_project(session, name="A")
    with pytest.raises(svc.ProjectError, match="last active secret key"):
        svc.revoke_api_key(session, project_id=project.id, key_id=secret.id)
    second = svc.create_api_key(session, project_id=project.id, kind="secret", name="ci")
    svc.revoke_api_key(session, project_id=project.id, key_id=secret.id)
    session.commit()
    assert svc.project_for_key(session, secret.token, kinds=("secret",)) is None
    assert svc.project_for_key(session, second.token, kinds=("secret",)).id == project.id
    svc.revoke_api_key(session, project_id=project.id, key_id=secret.id)  # idempotent


def test_keys_are_scoped_to_their_project(session: Session) -> None:
    a, _, _ = svc.create_project(session, name="A")
    _, _, b_secret = svc.create_project(session, name="B")
    with pytest.raises(svc.ProjectError, match=r"key_id: no key"):
        svc.revoke_api_key(session, project_id=a.id, key_id=b_secret.id)


def test_find_and_update_project(session: Session) -> None:
    with pytest.raises(svc.ProjectError, match="no project yet"):
        svc.find_project(session, None)
    a, _, _ = svc.create_project(session, name="A")
    assert svc.find_project(session, None).id == a.id
    b, _, _ = svc.create_project(session, name="B")
    with pytest.raises(svc.ProjectError, match="several projects"):
        svc.find_project(session, None)
    assert svc.find_project(session, "B").id == b.id
    assert svc.find_project(session, str(a.id)).id == a.id
    with pytest.raises(svc.ProjectError, match="no project named"):
        svc.find_project(session, "C")

    changes = ProjectUpdate(timezone="Europe/Berlin", week_start=7, activation_event="signup")
    svc.update_project(session, project=a, changes=changes.model_dump(exclude_unset=True))
    session.commit()
    session.expire_all()
    again = svc.get_project(session, a.id)
    assert (again.timezone, again.week_start, again.activation_event) == (
        "Europe/Berlin",
        7,
        "signup",
    )
    svc.update_project(session, project=again, changes={"activation_event": ""})
    assert again.activation_event is None
    with pytest.raises(svc.ProjectError, match=r"^timezone:"):
        svc.update_project(session, project=again, changes={"timezone": "Nowhere/Land"})
    with pytest.raises(svc.ProjectError, match=r"^id: cannot be changed"):
        svc.update_project(session, project=again, changes={"id": 5})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"week_start": 3}, "week_start"),
        ({"revenue_property": "  "}, "revenue_property"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_project_update_validation_names_the_field(body: dict, field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        ProjectUpdate.model_validate(body)
    assert info.value.errors()[0]["loc"] == (field,)
