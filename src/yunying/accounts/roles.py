"""Project roles and who may change whose role (pure, no I/O).

Roles are ordered: each role may do everything the roles before it may do.
- viewer: read pages, dashboards and saved insights.
- analyst: also build, save and export insights; create and arrange dashboards.
- operator: also run operational actions (segments, campaigns, content, …).
- admin: also change project settings, API keys and members below admin.
- owner: also manage admins and owners.
"""

from __future__ import annotations

from typing import Literal

from yunying.accounts.errors import AccountError

Role = Literal["viewer", "analyst", "operator", "admin", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "analyst", "operator", "admin", "owner")


def role_rank(role: str) -> int:
    """Position of ``role`` in ROLES; ValueError for an unknown role (never guess)."""
    return ROLES.index(role)  # type: ignore[arg-type]


def allows(role: str, needed: str) -> bool:
    return role_rank(role) >= role_rank(needed)


def validate_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError("settings.error.role_invalid")
    return role  # type: ignore[return-value]


def assignable_roles(actor_role: str | None) -> tuple[Role, ...]:
    """Roles ``actor_role`` may hand out (None = the system: every role)."""
    if actor_role is None or actor_role == "owner":
        return ROLES
    if actor_role == "admin":
        return tuple(r for r in ROLES if role_rank(r) < role_rank("admin"))
    return ()


def check_change(
    *, actor_role: str | None, current: str | None, new: str | None, owners_after: int
) -> None:
    """Raise AccountError unless the change is allowed.

    ``current`` None = adding a member; ``new`` None = removing one; ``owners_after`` is
    how many owners the project would have afterwards. Rules: only admin+ manage members;
    an admin manages only roles below admin (so never an owner or another admin); the
    last owner can be neither removed nor demoted, whoever asks.
    """
    if new is not None:
        validate_role(new)
    if current is not None:
        validate_role(current)
    if actor_role is not None:
        allowed = assignable_roles(actor_role)
        if not allowed:
            raise AccountError("settings.error.not_allowed")
        if current is not None and current not in allowed:
            raise AccountError("settings.error.cannot_manage_role")
        if new is not None and new not in allowed:
            raise AccountError("settings.error.cannot_grant_role")
    if current == "owner" and new != "owner" and owners_after < 1:
        raise AccountError("settings.error.last_owner")
