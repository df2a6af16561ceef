"""``yunying people …`` (filled in by its feature)."""

from __future__ import annotations

import typer

app = typer.Typer(help="People (用户画像): profiles.", no_args_is_help=True)
