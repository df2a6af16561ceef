"""Operational-store tables for this area (filled in with its migration)."""

from __future__ import annotations

from yunying.db.models import Base  # noqa: F401
