"""``yunying churn …`` (filled in by its feature)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Churn warning (流失预警): warning line, BG/NBD, churn model.", no_args_is_help=True
)
