"""CLI test helpers: run ``yunying`` in-process and check exit codes and messages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from yunying.cli.main import app


class Cli:
    """``cli("projects", "list")`` → Result; every call gets ``--data-dir`` if wanted."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.runner = CliRunner(env={"COLUMNS": "200", "YUNYING_DATABASE_URL": None})

    def __call__(self, *args: str, data_dir: bool = True, env: dict | None = None) -> Result:
        argv = [*args, "--data-dir", str(self.data_dir)] if data_dir else list(args)
        return self.runner.invoke(app, argv, env=env)

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self(*args, **kw)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, **kw).stdout)

    def user_error(self, *args: str, match: str, **kw: Any) -> Result:
        """Exit code 2, one clear message on stderr matching ``match``, no traceback."""
        result = self(*args, **kw)
        assert result.exit_code == 2, (result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert re.search(match, result.stderr, re.S), result.stderr
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


@pytest.fixture
def ready(cli: Cli) -> Cli:
    """An initialised data folder."""
    cli.ok("init")
    return cli


def keys_from(output: str) -> tuple[str, str]:
    public = re.search(r"phc_[\w-]+", output)
    secret = re.search(r"yys_[\w-]+", output)
    assert public and secret, output
    return public.group(0), secret.group(0)


def argv(*parts: str | Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in parts:
        out.extend([p] if isinstance(p, str) else p)
    return out
