"""``yunying projects …``: create, list, update, and the key life cycle."""

from __future__ import annotations

import csv
import io

from tests.cli.conftest import Cli, keys_from


def test_create_list_and_update(ready: Cli) -> None:
    created = ready.json("projects", "create", "Blog", "--timezone", "Europe/Paris", "-f", "json")
    assert created["public_key"].startswith("phc_") and created["secret_key"].startswith("yys_")
    rows = list(csv.DictReader(io.StringIO(ready.ok("projects", "list", "-f", "csv").stdout)))
    assert [r["name"] for r in rows] == ["Default", "Blog"]
    table = ready.ok("projects", "list").stdout
    assert "Blog" in table and "Europe/Paris" in table

    ready.user_error("projects", "keys", match="several projects")
    ready.ok(
        "projects", "update", "-p", "Blog", "--week-start", "sunday", "--activation-event", "x"
    )
    blog = ready.json("projects", "list", "-f", "json")[1]
    assert (blog["week_start"], blog["activation_event"]) == (7, "x")
    ready.user_error(
        "projects", "update", "-p", "Blog", "--timezone", "Nope/Nope", match="timezone: "
    )
    ready.user_error("projects", "update", "-p", "99", match="no project with id 99")
    ready.user_error("projects", "create", " ", match="name: must not be empty")


def test_key_life_cycle(ready: Cli) -> None:
    keys = ready.json("projects", "keys", "-f", "json")
    secret_id = next(k["id"] for k in keys if k["kind"] == "secret")
    ready.user_error("projects", "revoke-key", str(secret_id), match="last active secret key")

    new = ready.ok("projects", "create-key", "--kind", "secret", "--name", "ci")
    assert "shown only now" in new.stdout
    ready.ok("projects", "revoke-key", str(secret_id))
    keys = ready.json("projects", "keys", "-f", "json")
    assert [(k["kind"], k["revoked_at"] is not None) for k in keys] == [
        ("public", False),
        ("secret", True),
        ("secret", False),
    ]
    assert keys[0]["token"].startswith("phc_") and keys[2]["token"] is None

    public = ready.json("projects", "create-key", "--kind", "public", "-f", "json")
    assert public["token"].startswith("phc_")
    ready.user_error("projects", "create-key", "--kind", "admin", match="kind")
    ready.user_error("projects", "revoke-key", "999", match="no key 999")


def test_create_prints_keys_once(ready: Cli) -> None:
    out = ready.ok("projects", "create", "Shop").stdout
    keys_from(out)
    assert "shown only now" in out
