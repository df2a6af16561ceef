"""``yunying people show``: a profile by person id or distinct id, in every format."""

from __future__ import annotations

import csv
import io

import pytest

from tests.cli.conftest import Cli
from tests.factories import ev, load, pid
from yunying.config import Settings
from yunying.people.profile import Profile
from yunying.store.base import open_event_store


@pytest.fixture
def seeded(ready: Cli) -> Cli:
    store = open_event_store(Settings(data_dir=ready.data_dir))
    try:
        load(
            store,
            [
                ev("anon", "$pageview", "2024-01-08 10:00",
                   **{"$referrer": "https://www.zhihu.com/q"}),
                ev("alice", "signup", "2024-01-08 10:05"),
                ev("alice", "view", "2024-01-09 10:05"),
            ],
            merges={"anon": "alice"},
            person_props={"alice": {"name": "Alice", "city": "上海"}},
        )  # fmt: skip
    finally:
        store.close()
    return ready


def test_show_in_every_format(seeded: Cli) -> None:
    p = Profile.model_validate(seeded.json("people", "show", pid("alice"), "-f", "json"))
    assert (p.name, p.first_touch_channel, p.active_days) == ("Alice", "zhihu.com", 2)
    table = seeded.ok("people", "show", "anon", "--distinct-id").stdout
    assert "Alice" in table and "zhihu.com (social)" in table and "property.city" in table
    rows = dict(csv.reader(io.StringIO(seeded.ok("people", "show", "alice", "-d", "-f",
                                                 "csv").stdout)))  # fmt: skip
    assert rows["id"] == pid("alice") and rows["events.signup"] == "1"
    assert rows["lifecycle"].startswith("dormant")


def test_unknown_person_is_a_clear_error(seeded: Cli) -> None:
    seeded.user_error("people", "show", "nobody", match="no person 'nobody'")
    seeded.user_error("people", "show", "nobody", "-d", match="no distinct id 'nobody'")
