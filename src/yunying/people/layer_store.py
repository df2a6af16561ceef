"""Reading and saving a project's layer settings (operational store).

A stored document that no longer validates (a field renamed in a later version) falls
back to the defaults for that part instead of breaking every layer page.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.db.people_models import LayerSettingsRow
from yunying.people.layer_settings import ActivitySettings, LayerSettings, RfmSettings


def _row(session: Session, project_id: int) -> LayerSettingsRow | None:
    return session.scalar(
        select(LayerSettingsRow).where(LayerSettingsRow.project_id == int(project_id))
    )


def get_layer_settings(session: Session, project_id: int) -> LayerSettings:
    """The project's settings, or the defaults when none are saved."""
    row = _row(session, project_id)
    if row is None:
        return LayerSettings()
    try:
        activity = ActivitySettings.model_validate_json(row.activity or "{}")
    except ValidationError:
        activity = ActivitySettings()
    try:
        rfm = RfmSettings.model_validate_json(row.rfm or "{}")
    except ValidationError:
        rfm = RfmSettings()
    return LayerSettings(activity=activity, rfm=rfm)


def save_layer_settings(
    session: Session, project_id: int, settings: LayerSettings, *, user_id: int | None = None
) -> LayerSettings:
    """Replace the project's settings (the caller commits)."""
    row = _row(session, project_id)
    if row is None:
        row = LayerSettingsRow(project_id=int(project_id))
        session.add(row)
    row.activity = settings.activity.model_dump_json()
    row.rfm = settings.rfm.model_dump_json()
    row.updated_by = user_id
    row.updated_at = datetime.now(UTC)
    session.flush()
    return settings
