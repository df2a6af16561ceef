"""Account services: users, passwords, memberships and roles, sessions, sign-in limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.accounts.errors import AccountError
from yunying.accounts.members import (
    add_member,
    bootstrap_owner,
    count_owners,
    invite_member,
    list_members,
    remove_member,
    set_role,
    user_projects,
)
from yunying.accounts.ratelimit import RateLimit, limit_key, retry_after
from yunying.accounts.roles import ROLES, assignable_roles, check_change, role_rank
from yunying.accounts.sessions import (
    SessionPolicy,
    end_session,
    end_user_sessions,
    is_live,
    resolve_session,
    start_session,
)
from yunying.accounts.signin import sign_in
from yunying.accounts.users import (
    authenticate,
    change_password,
    create_user,
    find_user,
    verify_password,
)
from yunying.db.migrate import upgrade
from yunying.db.models import User, WebSession
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker

PW = "correct horse battery"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    s = make_sessionmaker(engine)()
    try:
        yield s
    finally:
        s.close()
        engine.dispose()


def _project(session: Session, name: str = "P") -> int:
    return create_project(session, name=name)[0].id


# --- users and passwords -------------------------------------------------------------


def test_create_user_hashes_with_argon2id_and_emails_ignore_case(session: Session) -> None:
    user = create_user(session=session, email="  Ann@Example.COM ", password=PW, name="Ann")
    assert user.email == "ann@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert PW not in user.password_hash
    assert find_user(session, "ANN@example.com") is user
    with pytest.raises(AccountError) as err:
        create_user(session=session, email="ann@EXAMPLE.com", password=PW, name="Other")
    assert err.value.key == "auth.error.email_taken"


@pytest.mark.parametrize(
    ("email", "password", "key"),
    [
        ("not-an-email", PW, "auth.error.email_invalid"),
        ("a@b.c", "short", "auth.error.password_too_short"),
        ("a@b.c", "x" * 2000, "auth.error.password_too_long"),
    ],
)
def test_create_user_validates(session: Session, email: str, password: str, key: str) -> None:
    with pytest.raises(AccountError) as err:
        create_user(session=session, email=email, password=password, name="")
    assert err.value.key == key


def test_authenticate(session: Session) -> None:
    user = create_user(session=session, email="a@b.c", password=PW, name="A")
    assert authenticate(session=session, email="A@B.C", password=PW) is user
    assert authenticate(session=session, email="a@b.c", password=PW + "!") is None
    assert authenticate(session=session, email="nobody@b.c", password=PW) is None
    user.disabled = True
    assert authenticate(session=session, email="a@b.c", password=PW) is None


def test_change_password_checks_current_and_ends_other_sessions(session: Session) -> None:
    user = create_user(session=session, email="a@b.c", password=PW, name="A")
    policy = SessionPolicy()
    keep = start_session(session=session, user_id=user.id, policy=policy)
    other = start_session(session=session, user_id=user.id, policy=policy)
    with pytest.raises(AccountError) as err:
        change_password(
            session=session, user_id=user.id, current_password="wrong", new_password="n" * 12
        )
    assert err.value.key == "auth.error.current_password_wrong"
    change_password(
        session=session, user_id=user.id, current_password=PW, new_password="new password 1",
        keep_session_id=keep.id,
    )  # fmt: skip
    assert verify_password(user.password_hash, "new password 1")
    assert resolve_session(session=session, token=keep.token, policy=policy) is not None
    assert resolve_session(session=session, token=other.token, policy=policy) is None


# --- sessions -------------------------------------------------------------------------


def test_sessions_store_only_a_digest_and_expire(session: Session) -> None:
    user = create_user(session=session, email="a@b.c", password=PW, name="A")
    policy = SessionPolicy(max_age=timedelta(days=1), idle=timedelta(hours=1))
    new = start_session(session=session, user_id=user.id, policy=policy, now=T0)
    stored = session.scalars(select(WebSession.token_hash)).all()
    assert new.token not in stored and len(stored) == 1
    found = resolve_session(session=session, token=new.token, policy=policy, now=T0)
    assert found is not None and found.user.id == user.id and found.csrf_token == new.csrf_token
    # Used every 50 minutes: idle never reached, but the absolute lifetime is.
    t = T0
    for _ in range(30):
        t += timedelta(minutes=50)
        alive = resolve_session(session=session, token=new.token, policy=policy, now=t)
        if t < T0 + timedelta(days=1):
            assert alive is not None
        else:
            assert alive is None
            break
    else:
        pytest.fail("the session never expired")
    assert session.scalars(select(WebSession)).all() == []  # the dead session was deleted


def test_idle_session_ends(session: Session) -> None:
    user = create_user(session=session, email="a@b.c", password=PW, name="A")
    policy = SessionPolicy(max_age=timedelta(days=1), idle=timedelta(hours=1))
    new = start_session(session=session, user_id=user.id, policy=policy, now=T0)
    later = T0 + timedelta(hours=1, seconds=1)
    assert resolve_session(session=session, token=new.token, policy=policy, now=later) is None


def test_logout_and_sign_out_everywhere(session: Session) -> None:
    user = create_user(session=session, email="a@b.c", password=PW, name="A")
    policy = SessionPolicy()
    a = start_session(session=session, user_id=user.id, policy=policy)
    b = start_session(session=session, user_id=user.id, policy=policy)
    end_session(session=session, token=a.token)
    assert resolve_session(session=session, token=a.token, policy=policy) is None
    assert end_user_sessions(session=session, user_id=user.id) == 1
    assert resolve_session(session=session, token=b.token, policy=policy) is None
    assert resolve_session(session=session, token="", policy=policy) is None


@given(
    created_ago=st.integers(0, 10_000),
    seen_ago=st.integers(0, 10_000),
    max_age=st.integers(1, 5_000),
    idle=st.integers(1, 5_000),
)
def test_liveness_rule(created_ago: int, seen_ago: int, max_age: int, idle: int) -> None:
    policy = SessionPolicy(max_age=timedelta(minutes=max_age), idle=timedelta(minutes=idle))
    created = T0 - timedelta(minutes=created_ago)
    live = is_live(
        expires_at=created + policy.max_age,
        last_seen_at=T0 - timedelta(minutes=min(seen_ago, created_ago)),
        now=T0,
        policy=policy,
    )
    assert live == (created_ago < max_age and min(seen_ago, created_ago) < idle)


# --- roles and memberships --------------------------------------------------------------

role_or_none = st.one_of(st.none(), st.sampled_from(ROLES))


@given(actor=role_or_none, current=role_or_none, new=role_or_none, owners=st.integers(0, 3))
def test_role_change_rules(
    actor: str | None, current: str | None, new: str | None, owners: int
) -> None:
    """The permission matrix, stated independently of the implementation."""
    if current is None and new is None:
        return
    expected_ok = True
    if actor is not None:
        if role_rank(actor) < role_rank("admin"):
            expected_ok = False
        elif actor == "admin":
            limit = role_rank("admin")
            if (current and role_rank(current) >= limit) or (new and role_rank(new) >= limit):
                expected_ok = False
    if current == "owner" and new != "owner" and owners < 1:
        expected_ok = False
    try:
        check_change(actor_role=actor, current=current, new=new, owners_after=owners)
        ok = True
    except AccountError:
        ok = False
    assert ok == expected_ok


def test_assignable_roles() -> None:
    assert assignable_roles("owner") == ROLES
    assert assignable_roles("admin") == ("viewer", "analyst", "operator")
    assert assignable_roles("operator") == ()


def test_membership_services(session: Session) -> None:
    pid = _project(session)
    owner = create_user(session=session, email="o@x.io", password=PW, name="O")
    admin = create_user(session=session, email="a@x.io", password=PW, name="A")
    ann = create_user(session=session, email="ann@x.io", password=PW, name="Ann")
    add_member(session=session, project_id=pid, user_id=owner.id, role="owner")
    add_member(session=session, project_id=pid, user_id=admin.id, role="admin")
    add_member(session=session, project_id=pid, user_id=ann.id, role="viewer", actor_role="admin")
    with pytest.raises(AccountError, match="already_member"):
        add_member(session=session, project_id=pid, user_id=ann.id, role="viewer")
    set_role(session=session, project_id=pid, user_id=ann.id, role="analyst", actor_role="admin")
    # an admin cannot demote or remove the owner, nor promote someone to admin
    with pytest.raises(AccountError, match="cannot_manage_role"):
        set_role(
            session=session, project_id=pid, user_id=owner.id, role="viewer", actor_role="admin"
        )
    with pytest.raises(AccountError, match="cannot_manage_role"):
        remove_member(session=session, project_id=pid, user_id=owner.id, actor_role="admin")
    with pytest.raises(AccountError, match="cannot_grant_role"):
        set_role(session=session, project_id=pid, user_id=ann.id, role="admin", actor_role="admin")
    with pytest.raises(AccountError, match="not_allowed"):
        remove_member(session=session, project_id=pid, user_id=ann.id, actor_role="operator")
    # the last owner stays, even when the owner asks
    with pytest.raises(AccountError, match="last_owner"):
        remove_member(session=session, project_id=pid, user_id=owner.id, actor_role="owner")
    with pytest.raises(AccountError, match="last_owner"):
        set_role(session=session, project_id=pid, user_id=owner.id, role="admin")
    set_role(session=session, project_id=pid, user_id=admin.id, role="owner", actor_role="owner")
    set_role(session=session, project_id=pid, user_id=owner.id, role="admin", actor_role="owner")
    assert count_owners(session, pid) == 1
    remove_member(session=session, project_id=pid, user_id=ann.id, actor_role="admin")
    assert {m.email: m.role for m in list_members(session, pid)} == {
        "a@x.io": "owner",
        "o@x.io": "admin",
    }
    assert [p.role for p in user_projects(session, admin.id)] == ["owner"]


def test_invite_creates_account_with_temporary_password(session: Session) -> None:
    pid = _project(session)
    inv = invite_member(
        session=session, project_id=pid, email="New@X.io", role="operator", actor_role="admin"
    )
    assert inv.email == "new@x.io" and inv.temporary_password
    user = authenticate(session=session, email="new@x.io", password=inv.temporary_password)
    assert user is not None and user.must_change_password
    # an existing account is just added; no password to show
    other = _project(session, "Q")
    again = invite_member(session=session, project_id=other, email="new@x.io", role="viewer")
    assert again.temporary_password is None and again.user_id == user.id
    with pytest.raises(AccountError, match="cannot_grant_role"):
        invite_member(
            session=session, project_id=pid, email="b@x.io", role="owner", actor_role="admin"
        )
    assert find_user(session, "b@x.io") is None


def test_bootstrap_owner_once(session: Session) -> None:
    pid = _project(session)
    created = bootstrap_owner(session=session, project_id=pid)
    assert created is not None
    email, password = created
    assert email == "admin@yunying.local" and len(password) >= 12
    assert authenticate(session=session, email=email, password=password) is not None
    assert [m.role for m in list_members(session, pid)] == ["owner"]
    assert bootstrap_owner(session=session, project_id=pid) is None
    # a second project: the existing admin account becomes its owner, no new secret
    second = _project(session, "Second")
    assert bootstrap_owner(session=session, project_id=second) is None
    assert [p.role for p in user_projects(session, find_user(session, email).id)] == [
        "owner",
        "owner",
    ]
    assert session.scalar(select(User.password_hash)).startswith("$argon2id$")


# --- sign-in throttling ---------------------------------------------------------------


@given(
    offsets=st.lists(st.integers(0, 3600), max_size=12),
    max_failures=st.integers(1, 6),
    window_min=st.integers(1, 30),
)
def test_retry_after_window(offsets: list[int], max_failures: int, window_min: int) -> None:
    limit = RateLimit(max_failures=max_failures, window=timedelta(minutes=window_min))
    failures = [T0 - timedelta(seconds=o) for o in offsets]
    in_window = [f for f in failures if T0 - limit.window < f <= T0]
    wait = retry_after(failures, now=T0, limit=limit)
    assert (wait > 0) == (len(in_window) >= max_failures)
    assert wait <= limit.window.total_seconds()
    if wait:
        # blocked just before the wait is over, free once it is (no new failures)
        later = T0 + timedelta(seconds=wait)
        assert retry_after(failures, now=later, limit=limit) == 0
        if wait > 1:
            assert retry_after(failures, now=later - timedelta(seconds=1.5), limit=limit) > 0


def test_sign_in_throttles_per_email_and_address(session: Session) -> None:
    create_user(session=session, email="a@b.c", password=PW, name="A")
    limit, policy = RateLimit(max_failures=3, window=timedelta(minutes=15)), SessionPolicy()

    def attempt(password: str, client: str = "10.0.0.1", at: datetime = T0):  # type: ignore[no-untyped-def]
        return sign_in(
            session=session, email="a@b.c", password=password, client=client, limit=limit,
            policy=policy, now=at,
        )  # fmt: skip

    assert [attempt("bad").outcome for _ in range(3)] == ["bad_credentials"] * 3
    blocked = attempt(PW)  # even the right password is refused while blocked
    assert blocked.outcome == "limited" and blocked.retry_after == 15 * 60
    assert attempt(PW, client="10.0.0.2").outcome == "ok"  # another address is not blocked
    ok = attempt(PW, at=T0 + timedelta(minutes=15, seconds=1))
    assert ok.outcome == "ok" and ok.session is not None
    assert attempt("bad", at=T0 + timedelta(minutes=16)).outcome == "bad_credentials"
    assert limit_key("A@b.c ", "x") == limit_key("a@b.c", "x") != limit_key("a@b.c", "y")
