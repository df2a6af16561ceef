"""Insight forms → query models (errors name the field) and back (round trip)."""

from __future__ import annotations

from datetime import date

import pytest
from starlette.datastructures import QueryParams

from yunying.analytics.common import DateRange
from yunying.web.form_state import FormState, insight_params
from yunying.web.forms import FormError, Options, parse_filters, parse_insight

TODAY = date(2024, 6, 30)


def parse(kind: str, qs: str):  # type: ignore[no-untyped-def]
    return parse_insight(kind, QueryParams(qs), today=TODAY)


def test_trends_form() -> None:
    got = parse("trends", "event=signup&event=&event=pay&math=sum&math_property=%24revenue"
                          "&interval=week&chart=bar&breakdown=%24os&range=7d"
                          "&filter_key=channel&filter_op=in&filter_value=douyin,+seo&filter_type=event"
                          "&filter_key=&filter_op=eq&filter_value=")  # fmt: skip
    q = got.query
    assert [s.event for s in q.series] == ["signup", "pay"]  # blank rows are skipped
    assert (q.math, q.math_property, q.interval) == ("sum", "$revenue", "week")
    assert q.date_range == DateRange(date_from=date(2024, 6, 24), date_to=TODAY)
    assert q.breakdown.property == "$os" and q.filters[0].value == ["douyin", "seo"]
    assert got.options == Options(chart="bar", range_days=7)


def test_defaults_and_custom_dates() -> None:
    q = parse("funnel", "step=a&step=b").query
    assert (q.mode, q.window, q.window_unit) == ("ordered", 14, "days")
    assert q.date_range.date_to == TODAY and q.date_range.date_from == date(2024, 6, 1)
    custom = parse("lifecycle", "event=x&range=custom&date_from=2024-01-01&date_to=2024-01-31")
    assert custom.query.date_range == DateRange(
        date_from=date(2024, 1, 1), date_to=date(2024, 1, 31)
    )
    assert custom.options.range_days is None


@pytest.mark.parametrize(
    ("kind", "qs", "field", "code"),
    [
        ("trends", "", "event", "min_items"),
        ("trends", "event=x&math=avg", "math_property", "required"),
        ("trends", "event=x&interval=year", "interval", "choice"),
        ("funnel", "step=a", "step", "min_items"),
        ("funnel", "step=a&step=b&window=367&window_unit=days", "window", "window_too_long"),
        ("funnel", "step=a&step=b&window=-1", "window", "integer"),
        ("retention", "start_event=&periods=3", "start_event", "required"),
        ("retention", "start_event=a&periods=61", "periods", "integer"),
        ("paths", "start_event=a&direction=sideways", "direction", "choice"),
        ("stickiness", "event=a&interval_count=x", "interval_count", "integer"),
        ("lifecycle", "event=a&range=custom&date_from=2024-02-30", "date_from", "date"),
        ("lifecycle", "event=a&range=custom&date_from=2024-02-02&date_to=2024-02-01",
         "date_from", "date_order"),
        ("lifecycle", "event=a&range=8d", "range", "choice"),
        ("trends", "event=a&filter_key=n&filter_op=lt&filter_value=x", "filter_value", "number"),
        ("trends", "event=a&filter_key=n&filter_op=in&filter_value=,", "filter_value", "required"),
        ("trends", "event=a&filter_key=n&filter_op=eq&filter_value=", "filter_value", "required"),
        ("trends", "event=a&filter_key=n&filter_type=group&filter_value=1", "filter_type",
         "choice"),
        ("trends", "event=" + "x" * 401, "event", "too_long"),
        ("nope", "event=a", "kind", "choice"),
        ("trends", "event=a&s1_filter_key=n&s1_filter_op=lt&s1_filter_value=x", "filter_value",
         "number"),
        ("funnel", "step=a&step=b&exclusion=x&mode=unordered", "exclusion", "exclusion_unordered"),
        ("funnel", "step=a&step=b&exclusion=x&exclusion_from=2", "exclusion_from", "integer"),
        ("funnel", "step=a&step=b&step=c&exclusion=x&exclusion_from=2&exclusion_to=1",
         "exclusion_to", "integer"),
        ("funnel", "step=a&step=b&step=c&exclusion=x&exclusion_from=2&exclusion_to=2",
         "exclusion_to", "exclusion_order"),
        ("funnel", "step=a&step=b" + "&exclusion=x" * 11, "exclusion", "max_items"),
        ("paths", "start_event=a&include=" + "x" * 401, "include", "too_long"),
        ("paths", "start_event=a&exclude=" + ",".join(f"e{i}" for i in range(21)), "exclude",
         "max_items"),
    ],
)  # fmt: skip
def test_errors_name_the_field(kind: str, qs: str, field: str, code: str) -> None:
    with pytest.raises(FormError) as err:
        parse(kind, qs)
    assert (err.value.field, err.value.code) == (field, code)


@pytest.mark.parametrize(
    ("kind", "qs"),
    [
        ("trends", "event=a&event=b&math=median&math_property=p&interval=hour&chart=bar"
                   "&breakdown=city&breakdown_type=person&breakdown_limit=5&range=14d"
                   "&filter_key=k&filter_op=gte&filter_value=2.5&filter_type=event"),
        ("retention", "start_event=a&return_event=b&retention_type=first_time&period=week"
                      "&periods=4&mode=within&range=custom&date_from=2024-01-01&date_to=2024-02-01"),
        ("funnel", "step=a&step=b&step=c&mode=strict&window=2&window_unit=hours&range=90d"
                   "&filter_key=city&filter_op=not_in&filter_value=x,y&filter_type=person"),
        ("paths", "start_event=a&direction=before&steps=4&session_gap=0&exclude=x,y&range=7d"),
        ("paths", "start_event=a&include=b&include=c,d&exclude=x&range=14d"),
        ("trends", "event=a&s1_filter_key=k&s1_filter_op=in&s1_filter_value=1,2&event=b"
                   "&event=c&s3_filter_key=city&s3_filter_op=eq&s3_filter_value=上海"
                   "&s3_filter_type=person&s3_filter_key=n&s3_filter_op=is_set&s3_filter_value="
                   "&s3_filter_type=event&filter_key=g&filter_value=1"),
        ("funnel", "step=a&step=b&step=c&exclusion=x&exclusion_from=2&exclusion_to=3"
                   "&exclusion=y&mode=strict"),
        ("lifecycle", "event=a&interval=month&range=180d&filter_key=k&filter_op=is_set"),
        ("stickiness", "event=a&interval=week&interval_count=2&range=30d"),
    ],
)  # fmt: skip
def test_query_to_params_round_trip(kind: str, qs: str) -> None:
    first = parse(kind, qs)
    again = parse_insight(kind, QueryParams(insight_params(first.query, first.options)),
                          today=TODAY)  # fmt: skip
    assert again.query == first.query and again.options == first.options


def test_form_state_rows_and_person_filters() -> None:
    state = FormState([("step", "a"), ("filter_key", "city"), ("filter_value", "上海")])
    assert state.rows("step", 2) == ["a", ""] and state.rows("event") == [""]
    assert state.filter_rows()[0] == {"key": "city", "op": "eq", "value": "上海", "type": "event"}
    assert state.filter_rows()[-1]["key"] == ""
    assert state.selected_range(30) == "30d"
    assert FormState([("date_from", "2024-01-01")]).selected_range(7) == "custom"
    filters = parse_filters(QueryParams("filter_key=city&filter_value=x&filter_type=event"),
                            person_only=True)  # fmt: skip
    assert filters[0].type == "person"


def test_series_filters_exclusions_and_path_events() -> None:
    q = parse("trends", "event=a&s1_filter_key=k&s1_filter_value=v&event=&event=b"
                        "&s3_filter_key=n&s3_filter_op=gte&s3_filter_value=2"
                        "&s2_filter_key=lost&s2_filter_value=1").query  # fmt: skip
    assert [(s.event, [(f.key, f.value) for f in s.filters]) for s in q.series] == [
        ("a", [("k", "v")]),
        ("b", [("n", 2)]),
    ]  # the blank row's filters go with it
    rows = [("x", "", ""), ("", "", ""), ("y", "2", "3")]  # as a browser sends the rows
    names = ("exclusion", "exclusion_from", "exclusion_to")
    pairs = [pair for row in rows for pair in zip(names, row, strict=True)]
    f = parse_insight("funnel", QueryParams([("step", "a"), ("step", "b"), ("step", "c"), *pairs]),
                      today=TODAY).query  # fmt: skip
    assert [(x.event, x.from_step, x.to_step) for x in f.exclusions] == [("x", 1, 3), ("y", 2, 3)]
    p = parse("paths", "start_event=a&include=&exclude=b,+c&exclude=b").query
    assert p.include_events is None and p.exclude_events == ["b", "c"]


def test_form_state_series_and_exclusion_rows() -> None:
    state = FormState([("event", "a"), ("event", ""), ("event", "b"), ("s3_filter_key", "k"),
                       ("s3_filter_value", "v"), ("exclusion", "x"), ("exclusion_from", ""),
                       ("exclusion_to", "3")])  # fmt: skip
    rows = state.series_rows()
    assert [r["event"] for r in rows] == ["a", "b", ""]
    assert [len(r["filters"]) for r in rows] == [1, 2, 1]  # each with one blank filter row
    assert rows[1]["filters"][0] == {"key": "k", "op": "eq", "value": "v", "type": "event"}
    assert state.exclusion_rows() == [
        {"event": "x", "from": "", "to": "3"},
        {"event": "", "from": "", "to": ""},
    ]
