"""``yunying segments …`` (filled in by its feature)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Segments (用户分群): define, preview, refresh, export.", no_args_is_help=True
)
