"""``yunying demo`` as a user runs it: needs `yunying init`, loads once, then adds nothing."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from yunying.cli.demo import demo_command
from yunying.config import get_settings
from yunying.db.migrate import upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker, session_scope

ARGS = ["--persons", "120", "--days", "10", "--end", "2024-06-30"]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("demo")(demo_command)
    app.command("noop")(lambda: None)  # two commands, so "demo" stays a subcommand
    return app


def _init(data_dir: Path) -> None:
    settings = get_settings(data_dir=data_dir)
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        create_project(session, name="demo")
    engine.dispose()


def test_demo_without_init_says_to_run_init(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["demo", *ARGS, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "yunying init" in result.output


def test_demo_unknown_project_and_bad_end(tmp_path: Path) -> None:
    _init(tmp_path)
    runner = CliRunner()
    result = runner.invoke(_app(), ["demo", *ARGS, "--data-dir", str(tmp_path), "-p", "9"])
    assert result.exit_code == 2
    assert "project 9" in result.output and "yunying init" in result.output
    result = runner.invoke(_app(), ["demo", "--end", "30/06/2024", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--end" in result.output


def test_demo_loads_then_adds_nothing(tmp_path: Path) -> None:
    _init(tmp_path)
    runner = CliRunner()
    first = runner.invoke(_app(), ["demo", *ARGS, "--data-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "persons signed up" in first.output and "120" in first.output
    again = runner.invoke(_app(), ["demo", *ARGS, "--data-dir", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert "Nothing new" in again.output
