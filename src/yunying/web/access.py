"""Who is looking at the console, and what they may do in a project (pure, no I/O).

The role rules live in yunying.accounts.roles (the domain); they are re-exported here.
Roles are ordered: each role may do everything the roles before it may do.
- viewer: read pages, dashboards and saved insights.
- analyst: also build, save and export insights; create and arrange dashboards.
- operator: also run operational actions (segments, campaigns, content, …).
- admin: also change project settings, API keys and members below admin.
- owner: also manage admins and owners.
"""

from __future__ import annotations

from dataclasses import dataclass

from yunying.accounts.roles import ROLES, Role, allows, role_rank
from yunying.analytics.context import ProjectContext

__all__ = ["ROLES", "ProjectAccess", "Role", "Viewer", "allows", "role_rank"]


@dataclass(frozen=True)
class Viewer:
    """The signed-in console user."""

    user_id: int
    email: str
    name: str
    locale: str | None  # remembered language; None = from the browser
    must_change_password: bool = False  # signed in with a temporary password


@dataclass(frozen=True)
class ProjectAccess:
    """A viewer inside one project they are a member of."""

    viewer: Viewer
    project_id: int
    project_name: str
    role: Role
    ctx: ProjectContext

    def can(self, needed: Role) -> bool:
        return allows(self.role, needed)
