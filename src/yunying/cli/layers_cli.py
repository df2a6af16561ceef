"""``yunying layers …`` (filled in by its feature)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="User layers (用户分层): RFM groups, activity layers, transitions.", no_args_is_help=True
)
