"""``yunying channels report|import-costs|costs``: round trips in every format and errors
that name the flag or the row and field, without a traceback."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.factories import ev, load
from yunying.config import Settings
from yunying.people.channels import ChannelReport
from yunying.store.base import open_event_store

RANGE = ["--from", "2024-01-08", "--to", "2024-01-14"]


@pytest.fixture
def seeded(ready: Cli) -> Cli:
    store = open_event_store(Settings(data_dir=ready.data_dir))
    try:
        load(
            store,
            [
                ev("u1", "pageview", "2024-01-08 10:00", channel="ads"),
                ev("u1", "pay", "2024-01-09 10:00", **{"$revenue": 60}),
                ev("u2", "pageview", "2024-01-09 10:00", channel="ads"),
                ev("u2", "signup", "2024-01-09 11:00", utm_source="seo"),
                ev("u3", "pageview", "2024-01-10 10:00"),
            ],
        )
    finally:
        store.close()
    return ready


def test_report_in_every_format(seeded: Cli, tmp_path: Path) -> None:
    data = ChannelReport.model_validate(seeded.json("channels", "report", *RANGE, "-f", "json"))
    assert {c.channel: c.new_persons for c in data.channels} == {"ads": 2, "direct": 1}
    table = seeded.ok("channels", "report", *RANGE).stdout
    assert "ads" in table and "no costs imported" in table
    rows = list(csv.DictReader(io.StringIO(seeded.ok("channels", "report", *RANGE, "-f",
                                                     "csv").stdout)))  # fmt: skip
    assert [r["channel"] for r in rows] == ["ads", "direct", "$total"]
    assert rows[0]["new_persons"] == "2" and rows[0]["revenue"] == "60"
    last = seeded.json("channels", "report", *RANGE, "-m", "last_touch", "--conversion-event",
                       "signup", "-f", "json")  # fmt: skip
    assert {c["channel"] for c in last["channels"]} == {"ads", "seo", "direct"}


def test_import_costs_then_report_and_list(seeded: Cli, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text("日期,渠道,费用\n2024-01-08,ads,30\n2024-01-09,ads,10\n", encoding="utf-8")
    first = seeded.json("channels", "import-costs", str(path), "-f", "json")
    assert (first["inserted"], first["merged"]) == (2, 0)
    again = seeded.json("channels", "import-costs", str(path), "-f", "json")
    assert (again["inserted"], again["unchanged"]) == (0, 2)
    seeded.ok("channels", "import-costs", str(path))  # table output
    report = seeded.json("channels", "report", *RANGE, "-f", "json")
    ads = next(c for c in report["channels"] if c["channel"] == "ads")
    assert (ads["cost"], ads["cac"], ads["roi"]) == (40.0, 20.0, 0.5)
    listed = seeded.json("channels", "costs", "-f", "json")
    assert [(r["day"], r["cost"]) for r in listed] == [("2024-01-08", 30.0), ("2024-01-09", 10.0)]
    exported = seeded.ok("channels", "costs", "--channel", "ads", "-f", "csv").stdout
    assert exported.splitlines()[0] == "date,channel,cost,currency"
    assert "total 40.00" in seeded.ok("channels", "costs").stdout


def test_errors_name_the_flag_or_row(seeded: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,channel,cost\n2024-01-08,ads,lots\n2024-02-30,ads,1\n")
    problems = r"nothing imported.*row 2, cost: not a number.*row 3, date"
    seeded.user_error("channels", "import-costs", str(bad), match=problems)
    assert seeded.json("channels", "costs", "-f", "json") == []
    seeded.user_error("channels", "import-costs", str(tmp_path / "missing.csv"), match="FILE")
    seeded.user_error("channels", "report", "--from", "soon", match="--from")
    seeded.user_error("channels", "report", "--from", "2024-02-01", "--to", "2024-01-01",
                      match="date_from")  # fmt: skip
    seeded.user_error("channels", "report", "-m", "middle", match="model")
    seeded.user_error("channels", "report", "--revenue-days", "0", match="revenue_days")
    seeded.user_error("channels", "costs", "--from", "2024-02-01", "--to", "2024-01-01",
                      match="--from")  # fmt: skip
    seeded.user_error("channels", "report", "-p", "nope", match="project")


def test_demo_loads_its_channel_costs(ready: Cli) -> None:
    ready.ok("demo", "--persons", "60", "--days", "10", "--end", "2024-01-14")
    costs = ready.json("channels", "costs", "-f", "json")
    assert {r["channel"] for r in costs} <= {"app_store", "douyin", "xiaohongshu", "seo",
                                             "offline"}  # fmt: skip
    assert costs and all(r["currency"] == "CNY" and r["cost"] > 0 for r in costs)
    ready.ok("demo", "--persons", "60", "--days", "10", "--end", "2024-01-14")  # again
    assert ready.json("channels", "costs", "-f", "json") == costs  # same seed, same rows
    report = ready.json("channels", "report", "--from", "2024-01-05", "--to", "2024-01-14",
                        "-f", "json")  # fmt: skip
    assert report["has_costs"] and any(c["cac"] for c in report["channels"])
