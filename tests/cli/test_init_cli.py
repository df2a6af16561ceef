"""``yunying init``: stores, first project, keys shown once and saved 0600; re-run no-op."""

from __future__ import annotations

import stat

import pytest

from tests.cli.conftest import Cli, keys_from
from tests.db.pg import temporary_database


def test_init_creates_stores_project_and_private_credentials(cli: Cli) -> None:
    result = cli.ok("init", "--project-name", "Shop", "--timezone", "UTC", "--week-start", "sunday")
    public, secret = keys_from(result.stdout)
    d = cli.data_dir
    assert (d / "yunying.sqlite3").is_file()
    assert (d / "events.duckdb").is_file()
    creds = d / "first-run-credentials.txt"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    text = creds.read_text()
    assert f"public_key={public}" in text and f"secret_key={secret}" in text

    projects = cli.json("projects", "list", "--format", "json")
    assert [(p["name"], p["timezone"], p["week_start"]) for p in projects] == [("Shop", "UTC", 7)]

    again = cli.ok("init")
    assert "Already initialised" in again.stdout
    assert "yys_" not in again.stdout  # the secret is never shown again
    assert creds.read_text() == text
    assert len(cli.json("projects", "list", "--format", "json")) == 1


def test_init_rejects_bad_settings_before_creating_anything(cli: Cli) -> None:
    cli.user_error("init", "--timezone", "Mars/Olympus", match="timezone: unknown time zone")
    cli.user_error("init", "--week-start", "friday", match="--week-start")
    assert not (cli.data_dir / "yunying.sqlite3").exists()


def test_data_dir_from_environment(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "from-env"
    cli.ok("init", data_dir=False, env={"YUNYING_DATA_DIR": str(target)})
    assert (target / "first-run-credentials.txt").exists()


def test_commands_before_init_say_so(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli.user_error("projects", "list", match=r"no Yunying store.*yunying init")
    data = tmp_path / "e.csv"
    data.write_text("event,distinct_id,timestamp\n")
    cli.user_error("import", str(data), match=r"no Yunying store")
    cli.user_error("query", "trends", "-e", "x", match=r"no Yunying store")


@pytest.mark.postgres
def test_init_on_postgresql(cli: Cli) -> None:
    with temporary_database() as url:
        first = cli.ok("init", "--database-url", url, "--project-name", "PG")
        _, secret = keys_from(first.stdout)
        assert not (cli.data_dir / "yunying.sqlite3").exists()
        again = cli.ok("init", "--database-url", url)
        assert "Already initialised" in again.stdout
        assert "postgres" in again.stdout
        listed = cli.json("projects", "list", "--format", "json", env={"YUNYING_DATABASE_URL": url})
        assert [p["name"] for p in listed] == ["PG"]
        cli.ok("projects", "create-key", "--database-url", url, "--kind", "secret")
        keys = cli.json("projects", "keys", "--database-url", url, "-f", "json")
        assert [k["kind"] for k in keys] == ["public", "secret", "secret"]
        assert secret[:10] == keys[1]["prefix"]


def test_unreachable_postgresql_is_a_clear_error(cli: Cli) -> None:
    cli.user_error(
        "projects",
        "list",
        "--database-url",
        "postgresql://postgres@127.0.0.1:1/nothing",
        match="cannot use the operational store",
    )


def test_init_creates_a_console_owner_who_can_sign_in(cli: Cli) -> None:
    import re

    from yunying.accounts.users import authenticate
    from yunying.db.session import make_engine, make_sessionmaker, session_scope

    result = cli.ok("init")
    text = (cli.data_dir / "first-run-credentials.txt").read_text()
    email = re.search(r"console_email=(\S+)", text).group(1)  # type: ignore[union-attr]
    password = re.search(r"console_password=(\S+)", text).group(1)  # type: ignore[union-attr]
    assert password in result.stdout  # printed once, at creation
    engine = make_engine(f"sqlite:///{cli.data_dir / 'yunying.sqlite3'}")
    with session_scope(make_sessionmaker(engine)) as session:
        assert authenticate(session=session, email=email, password=password) is not None
        assert authenticate(session=session, email=email, password=password + "x") is None
    engine.dispose()
    assert password not in cli.ok("init").stdout
