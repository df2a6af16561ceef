"""``yunying channels …`` (filled in by its feature)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Channel operations (渠道运营): attribution, costs, CAC and ROI.", no_args_is_help=True
)
