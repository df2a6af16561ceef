"""User layers (用户分层) in the operational store: each project's layer settings.

One row per project holding the activity-layer rules and the RFM scoring settings as
JSON documents (``people/layer_settings.py`` validates them), so a new rule field needs no
migration. The layers themselves are derived values in the event store
(``layer:activity``, ``rfm:group``, ``rfm:score``), not rows here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yunying.db.models import Base, UTCDateTime, _now


class LayerSettingsRow(Base):
    """A project's layer settings (absent = the defaults)."""

    __tablename__ = "layer_settings"
    __table_args__ = (UniqueConstraint("project_id", name="uq_layer_settings_project"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    activity: Mapped[str] = mapped_column(Text, default="{}")  # ActivitySettings as JSON
    rfm: Mapped[str] = mapped_column(Text, default="{}")  # RfmSettings as JSON
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
