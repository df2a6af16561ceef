"""Project memberships: who belongs to which project, with which role.

Every change goes through ``roles.check_change`` with the acting member's role, so the
rules (admins cannot touch owners, the last owner stays) hold for console and CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yunying.accounts.errors import AccountError
from yunying.accounts.roles import check_change, validate_role
from yunying.accounts.users import create_user, find_user, generate_password
from yunying.db.models import Membership, Project, User


@dataclass(frozen=True)
class MemberRow:
    user_id: int
    email: str
    name: str
    role: str
    joined_at: datetime
    disabled: bool


@dataclass(frozen=True)
class ProjectRole:
    """A project the user can open, and their role in it."""

    project_id: int
    name: str
    role: str


@dataclass(frozen=True)
class Invitation:
    user_id: int
    email: str
    role: str
    temporary_password: str | None  # None when the user already had an account


def get_membership(session: Session, *, user_id: int, project_id: int) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.project_id == project_id)
    )


def project_membership(
    session: Session, *, user_id: int, project_id: int
) -> tuple[str, Project] | None:
    """The user's role in the project and the project, or None if not a member."""
    row = session.execute(
        select(Membership.role, Project)
        .join(Project, Project.id == Membership.project_id)
        .where(Membership.user_id == user_id, Membership.project_id == project_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def count_owners(session: Session, project_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.project_id == project_id, Membership.role == "owner")
        )
        or 0
    )


def list_members(session: Session, project_id: int) -> list[MemberRow]:
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id)
        .order_by(User.email)
    )
    return [MemberRow(u.id, u.email, u.name, m.role, m.created_at, u.disabled) for m, u in rows]


def user_projects(session: Session, user_id: int) -> list[ProjectRole]:
    rows = session.execute(
        select(Project.id, Project.name, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user_id)
        .order_by(Project.id)
    )
    return [ProjectRole(pid, name, role) for pid, name, role in rows]


def add_member(
    *,
    session: Session,
    project_id: int,
    user_id: int,
    role: str,
    actor_role: str | None = None,
) -> Membership:
    """Give ``user_id`` a role in the project (AccountError if already a member)."""
    validate_role(role)
    if session.get(Project, project_id) is None or session.get(User, user_id) is None:
        raise AccountError("settings.error.member_not_found")
    if get_membership(session, user_id=user_id, project_id=project_id) is not None:
        raise AccountError("settings.error.already_member")
    check_change(actor_role=actor_role, current=None, new=role, owners_after=1)
    member = Membership(user_id=user_id, project_id=project_id, role=role)
    session.add(member)
    session.flush()
    return member


def _existing(session: Session, project_id: int, user_id: int) -> Membership:
    member = get_membership(session, user_id=user_id, project_id=project_id)
    if member is None:
        raise AccountError("settings.error.member_not_found")
    return member


def set_role(
    *,
    session: Session,
    project_id: int,
    user_id: int,
    role: str,
    actor_role: str | None = None,
) -> Membership:
    member = _existing(session, project_id, user_id)
    owners = count_owners(session, project_id)
    after = owners - (member.role == "owner") + (role == "owner")
    check_change(actor_role=actor_role, current=member.role, new=role, owners_after=after)
    member.role = role
    session.flush()
    return member


def remove_member(
    *, session: Session, project_id: int, user_id: int, actor_role: str | None = None
) -> None:
    member = _existing(session, project_id, user_id)
    after = count_owners(session, project_id) - (member.role == "owner")
    check_change(actor_role=actor_role, current=member.role, new=None, owners_after=after)
    session.delete(member)
    session.flush()


def invite_member(
    *,
    session: Session,
    project_id: int,
    email: str,
    role: str,
    name: str = "",
    actor_role: str | None = None,
) -> Invitation:
    """Add a member by email, creating the account with a temporary password (returned
    once, to be handed over by the admin) when there is none yet."""
    check_change(actor_role=actor_role, current=None, new=validate_role(role), owners_after=1)
    user = find_user(session, email)
    password = None
    if user is None:
        password = generate_password()
        user = create_user(
            session=session, email=email, password=password, name=name,
            must_change_password=True,
        )  # fmt: skip
    add_member(
        session=session, project_id=project_id, user_id=user.id, role=role,
        actor_role=actor_role,
    )  # fmt: skip
    return Invitation(user.id, user.email, role, password)


def bootstrap_owner(
    *, session: Session, project_id: int, email: str = "admin@yunying.local"
) -> tuple[str, str] | None:
    """First run: make an owner with a random password if the project has none.

    Returns ``(email, password)`` to print once, or None when an owner exists. An
    existing account with that email becomes the owner and keeps its password (None is
    returned too, since there is no new secret to show).
    """
    if count_owners(session, project_id) > 0:
        return None
    user = find_user(session, email)
    if user is not None:
        member = get_membership(session, user_id=user.id, project_id=project_id)
        if member is None:
            add_member(session=session, project_id=project_id, user_id=user.id, role="owner")
        else:
            member.role = "owner"
            session.flush()
        return None
    password = generate_password()
    user = create_user(session=session, email=email, password=password, name="Admin")
    add_member(session=session, project_id=project_id, user_id=user.id, role="owner")
    return user.email, password
