"""Channel costs on SQLite and PostgreSQL: CSV variants (BOM, GBK, Chinese headers, tabs),
idempotent re-import, same-day rows added up, every bad row reported with its row number
and field (and nothing written), currency checks, listing, deleting, project isolation."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from tests.db.conftest import db_url, session  # noqa: F401  (fixtures)
from yunying.db.projects import create_project
from yunying.people import channel_costs as svc

CSV = "date,channel,cost\n2024-01-08,ads,30\n2024-01-09,ads,12.5\n2024-01-08,seo,0\n"


@pytest.fixture
def projects(session: Session) -> tuple[int, int]:  # noqa: F811
    a, _, _ = create_project(session, name="A")
    b, _, _ = create_project(session, name="B")
    session.commit()
    return a.id, b.id


def stored(session: Session, project: int) -> list[tuple[str, str, float, str | None]]:  # noqa: F811
    return [
        (r.day.isoformat(), r.channel, r.cost, r.currency) for r in svc.list_costs(session, project)
    ]


def test_import_and_reimport_is_idempotent(session: Session, projects) -> None:  # noqa: F811
    a, b = projects
    first = svc.import_csv(session, a, CSV.encode())
    session.commit()
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert (first.date_from, first.date_to, first.channels) == (
        date(2024, 1, 8), date(2024, 1, 9), ["ads", "seo"],
    )  # fmt: skip
    again = svc.import_csv(session, a, CSV.encode())
    session.commit()
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert stored(session, a) == [
        ("2024-01-08", "ads", 30.0, None),
        ("2024-01-08", "seo", 0.0, None),
        ("2024-01-09", "ads", 12.5, None),
    ]
    fixed = svc.import_csv(session, a, "date,channel,cost\n2024-01-09,ads,15\n")
    session.commit()
    assert (fixed.inserted, fixed.updated) == (0, 1)
    assert stored(session, a)[-1] == ("2024-01-09", "ads", 15.0, None)
    assert stored(session, b) == []  # another project's costs are its own


def test_csv_variants(session: Session, projects) -> None:  # noqa: F811
    a, _ = projects
    excel = '\ufeffDate,Channel,Cost,Currency\r\n2024/1/8,抖音,"1,200.50",cny\r\n,,,\r\n'
    r = svc.import_csv(session, a, excel.encode("utf-8"))
    assert (r.rows, r.channels) == (1, ["抖音"])
    gbk = "日期,渠道,费用\n2024-01-09,抖音,100\n2024-01-09,抖音,¥50\n".encode("gb18030")
    r = svc.import_csv(session, a, gbk)
    assert (r.rows, r.merged) == (1, 1)  # two campaigns of one channel on one day: added up
    tabs = "date\tchannel\tspend\textra\n2024-01-10\tseo\t7\tignored\n"
    assert svc.import_csv(session, a, tabs).rows == 1
    session.commit()
    assert stored(session, a) == [
        ("2024-01-08", "抖音", 1200.5, "CNY"),
        ("2024-01-09", "抖音", 150.0, "CNY"),  # blank currency: the project's stored one
        ("2024-01-10", "seo", 7.0, "CNY"),
    ]


def test_bad_rows_are_all_reported_and_nothing_is_written(session: Session, projects) -> None:  # noqa: F811
    a, _ = projects
    bad = (
        "date,channel,cost,currency\n"
        "2024-01-08,ads,30,CNY\n"  # row 2: fine
        "2024-13-01,ads,5,\n"  # row 3: no month 13
        "2024-01-09,,5,\n"  # row 4: channel empty
        "2024-01-09,seo,-1,\n"  # row 5: negative
        "2024-01-09,seo,abc,\n"  # row 6: not a number
        "2024-01-09,seo,nan,\n"  # row 7: not finite
        "yesterday,seo,1,USD\n"  # row 8: date and a second currency
        "2024-01-09,\x07bell,1,EURO\n"  # row 9: control character, bad code
    )
    with pytest.raises(svc.CostImportError) as info:
        svc.import_csv(session, a, bad)
    found = [(e.row, e.field) for e in info.value.errors]
    assert found == [
        (3, "date"), (4, "channel"), (5, "cost"), (6, "cost"), (7, "cost"),
        (8, "date"), (8, "currency"), (9, "channel"), (9, "currency"),
    ]  # fmt: skip
    assert "row 3, date" in str(info.value)
    session.rollback()
    assert stored(session, a) == []


@pytest.mark.parametrize(
    ("text", "row", "field"),
    [
        ("", 1, "file"),
        ("day,amount\n2024-01-01,3\n", 1, "channel"),
        ("date,channel,cost,cost\n", 1, "cost"),
        ("date,channel,cost\n2024-01-01,ads\n", 2, "cost"),
        ("date,channel,cost\n2024-01-01,ads,1e13\n", 2, "cost"),
        ("date,channel,cost\n2024-01-01," + "x" * 201 + ",1\n", 2, "channel"),
    ],
)
def test_file_level_problems(session: Session, projects, text: str, row: int, field: str) -> None:  # noqa: F811
    with pytest.raises(svc.CostImportError) as info:
        svc.import_csv(session, projects[0], text.encode())
    assert (info.value.errors[0].row, info.value.errors[0].field) == (row, field)


def test_undecodable_and_oversized_files(session: Session, projects) -> None:  # noqa: F811
    with pytest.raises(svc.CostImportError) as info:
        svc.import_csv(session, projects[0], b"\xff\xfe\x00\x81\x00")
    assert info.value.errors[0].field == "file"
    with pytest.raises(svc.CostImportError):
        svc.import_csv(session, projects[0], b"x" * (svc.MAX_BYTES + 1))


def test_json_rows_and_currency_against_stored(session: Session, projects) -> None:  # noqa: F811
    a, _ = projects
    result = svc.import_rows(
        session, a, [{"date": "2024-01-08", "channel": "ads", "cost": 3, "currency": "CNY"}]
    )
    assert result.inserted == 1
    with pytest.raises(svc.CostImportError) as info:
        svc.import_rows(session, a, [{"date": "2024-01-09", "channel": "ads", "cost": 1,
                                      "currency": "USD"}])  # fmt: skip
    assert info.value.errors[0].field == "currency"
    with pytest.raises(svc.CostImportError) as info:
        svc.import_rows(session, a, [{"date": "2024-01-09", "channel": "ads", "cost": True},
                                     "not an object", ])  # fmt: skip
    assert [(e.row, e.field) for e in info.value.errors] == [(2, "row")]
    with pytest.raises(svc.CostImportError) as info:
        svc.import_rows(session, a, [{"date": "2024-01-09", "channel": "ads", "cost": True}])
    assert [(e.row, e.field) for e in info.value.errors] == [(1, "cost")]


def test_list_filter_delete_and_export(session: Session, projects) -> None:  # noqa: F811
    a, b = projects
    svc.import_csv(session, a, CSV)
    svc.import_csv(session, b, CSV)
    session.commit()
    assert len(svc.list_costs(session, a, date_from=date(2024, 1, 9))) == 1
    assert len(svc.list_costs(session, a, channel="seo")) == 1
    assert svc.cost_map(session, a, date(2024, 1, 8), date(2024, 1, 8)) == {
        (date(2024, 1, 8), "ads"): 30.0, (date(2024, 1, 8), "seo"): 0.0,
    }  # fmt: skip
    exported = svc.costs_csv(svc.list_costs(session, a))
    assert exported.splitlines()[0] == "date,channel,cost,currency"
    assert svc.import_csv(session, a, exported).unchanged == 3  # the export re-imports as is
    n = svc.delete_costs(
        session, a, date_from=date(2024, 1, 8), date_to=date(2024, 1, 8), channel="ads"
    )
    session.commit()
    assert n == 1 and len(stored(session, a)) == 2 and len(stored(session, b)) == 3
