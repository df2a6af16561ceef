"""People (用户画像): the person list with search and property filters, and one person's
profile (properties, first-touch channel, activity calendar, recent events).

Persons are resolved exactly as every metric resolves them (``person_distinct_ids``,
newest version wins), so the people a funnel step links to are the people shown here.
Event counts are first aggregated per distinct id and only then mapped to persons: the
mapping join then touches one row per id instead of one per event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from yunying.analytics.attribution import channel_sql, rules_for
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter, filters_sql
from yunying.analytics.source import person_map_sql, persons_sql
from yunying.insights.errors import NotFound
from yunying.insights.sqlutil import contains, in_list, json_obj, utc
from yunying.store.base import EventStore, rows

NAME_KEYS = ("name", "$name", "nickname", "email", "$email", "phone")
MAX_LIMIT = 500
IDENTIFY = "$identify"
# What SDKs make up before anyone signs in: UUIDs (with or without dashes), long
# hex-and-dash cookie ids, PostHog's "$device:…" ids.
_ANONYMOUS = re.compile(r"\$device:.*|[0-9a-fA-F-]{30,}")


class PersonSummary(BaseModel):
    id: str
    name: str = Field(description="A readable name: a name-like property or a distinct id.")
    properties: dict[str, Any]
    first_seen: datetime | None
    last_seen: datetime | None
    events: int


class PersonPage(BaseModel):
    persons: list[PersonSummary]
    total: int = Field(description="Persons matching the search and filters.")
    limit: int
    offset: int


class ActivityDay(BaseModel):
    day: date
    events: int


class PersonEvent(BaseModel):
    uuid: str
    event: str
    timestamp: datetime
    distinct_id: str
    properties: dict[str, Any]


class PersonProfile(BaseModel):
    id: str
    name: str
    properties: dict[str, Any]
    distinct_ids: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    events: int
    first_touch_channel: str | None = Field(description="As AARRR: of the first ever event.")
    active_days: int = Field(default=0, description="Local days with any event, all history.")
    calendar_from: date
    calendar_to: date
    calendar: list[ActivityDay] = Field(description="Events per local day, every day listed.")
    recent: list[PersonEvent]


def looks_anonymous(distinct_id: str) -> bool:
    """True for ids an SDK generates before sign-in (UUIDs, hex cookies, ``$device:``)."""
    text = distinct_id.strip()
    return (len(text) == 36 and text.count("-") == 4) or bool(_ANONYMOUS.fullmatch(text))


def display_name(properties: dict[str, Any], *ids: str, identified: str | None = None) -> str:
    """A name-like property; else the id the person identified with (their latest
    ``$identify``, even when it looks like a UUID); else the first id that does not look
    anonymous; else the first id."""
    for key in NAME_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if identified:
        return identified
    readable = [i for i in ids if i and not looks_anonymous(i)]
    return readable[0] if readable else next((i for i in ids if i), "")


def build_person_list_sql(
    store: EventStore,
    ctx: ProjectContext,
    *,
    search: str | None,
    filters: Sequence[PropertyFilter],
    person_ids: Sequence[str] | None,
    limit: int,
    offset: int,
) -> str:
    """Rows (pid, properties, first_seen, last_seen, n, any_id, total), newest activity first.

    Properties are read for every person only when a filter or the search needs them;
    otherwise only for the page of persons shown.
    """
    d = store.dialect
    project = int(ctx.project_id)
    where = ["TRUE"]
    person_filters = [f.model_copy(update={"type": "person"}) for f in filters]
    if person_filters:
        where.append(filters_sql(d, person_filters, person_alias="p"))
    if person_ids is not None:
        where.append(in_list(d, "ids.pid", list(person_ids)))
    if search and search.strip():
        needle = search.strip()
        where.append(
            f"({contains(d, 'ids.pid', needle)} OR {contains(d, 'p.properties', needle)} "
            f"OR ids.pid IN (SELECT person_id FROM m WHERE {contains(d, 'distinct_id', needle)}))"
        )
    needs_props = bool(person_filters) or bool(search and search.strip())
    ranked = (
        "SELECT ids.pid AS pid, a.first_seen AS first_seen, a.last_seen AS last_seen, "
        "coalesce(a.n, 0) AS n, a.any_id AS any_id, a.last_id AS last_id, "
        "count(*) OVER () AS total"
        + (", p.properties AS properties" if needs_props else "")
        + " FROM ids LEFT JOIN a ON a.pid = ids.pid"
        + (f" LEFT JOIN ({persons_sql(d, ctx)}) p ON p.id = ids.pid" if needs_props else "")
        + f" WHERE {' AND '.join(where)} ORDER BY a.last_seen DESC NULLS LAST, ids.pid "
        f"LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    shown = (
        f"SELECT id, {d.arg_max('properties', 'version')} AS properties FROM persons "
        f"WHERE project_id = {project} AND id IN (SELECT pid FROM r) GROUP BY id"
    )
    outer = (
        "SELECT r.pid AS pid, r.properties AS properties, r.first_seen AS first_seen, "
        "r.last_seen AS last_seen, r.n AS n, r.any_id AS any_id, r.last_id AS last_id, "
        "r.total AS total FROM r"
        if needs_props
        else "SELECT r.pid AS pid, q.properties AS properties, r.first_seen AS first_seen, "
        "r.last_seen AS last_seen, r.n AS n, r.any_id AS any_id, r.last_id AS last_id, "
        "r.total AS total "
        f"FROM r LEFT JOIN ({shown}) q ON q.id = r.pid"
    )
    return (
        f"WITH m AS ({person_map_sql(d, ctx)}), "
        f"di AS (SELECT distinct_id, person_id AS epid, min(timestamp) AS fs, "
        f"max(timestamp) AS ls, count(*) AS n FROM events WHERE project_id = {project} "
        f"GROUP BY distinct_id, person_id), "
        f"a AS (SELECT coalesce(m.person_id, di.epid) AS pid, min(di.fs) AS first_seen, "
        f"max(di.ls) AS last_seen, sum(di.n) AS n, min(di.distinct_id) AS any_id, "
        f"max(di.distinct_id) AS last_id "
        f"FROM di LEFT JOIN m ON m.distinct_id = di.distinct_id "
        f"GROUP BY coalesce(m.person_id, di.epid)), "
        f"ids AS (SELECT person_id AS pid FROM m UNION DISTINCT SELECT pid FROM a), "
        f"r AS ({ranked}) "
        f"{outer} ORDER BY r.last_seen DESC NULLS LAST, r.pid"
    )


def list_persons(
    store: EventStore,
    ctx: ProjectContext,
    *,
    search: str | None = None,
    filters: Sequence[PropertyFilter] = (),
    person_ids: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PersonPage:
    """Persons of the project, most recently active first.

    ``filters`` are person-property filters; ``search`` matches the person id, any of
    their distinct ids or any property text; ``person_ids`` restricts to a given set
    (a funnel step's persons, a segment).
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    sql = build_person_list_sql(
        store,
        ctx,
        search=search,
        filters=filters,
        person_ids=person_ids,
        limit=limit,
        offset=offset,
    )
    data = rows(store.query(sql))
    persons = []
    for r in data:
        props = json_obj(r["properties"])
        persons.append(
            PersonSummary(
                id=str(r["pid"]),
                name=display_name(
                    props, str(r["any_id"] or ""), str(r["last_id"] or ""), str(r["pid"])
                ),
                properties=props,
                first_seen=utc(r["first_seen"]),
                last_seen=utc(r["last_seen"]),
                events=int(r["n"] or 0),
            )
        )
    total = int(data[0]["total"]) if data else 0
    if not data and offset:
        total = list_persons(
            store, ctx, search=search, filters=filters, person_ids=person_ids, limit=1
        ).total
    return PersonPage(persons=persons, total=total, limit=limit, offset=offset)


# ---- one person ----------------------------------------------------------------------


def _person_events_where(
    store: EventStore, ctx: ProjectContext, person_id: str, ids: list[str]
) -> str:
    d = store.dialect
    base = f"e.project_id = {int(ctx.project_id)}"
    if ids:
        return f"{base} AND {in_list(d, 'e.distinct_id', ids)}"
    # No mapping at all: events still carry the person id they were written with.
    return f"{base} AND e.person_id = {d.str_lit(person_id)}"


def person_scope(store: EventStore, ctx: ProjectContext, person_id: str) -> tuple[list[str], str]:
    """The person's distinct ids and a SQL condition over ``events e`` selecting their
    events (by distinct id, so the mapping join is not needed per event)."""
    d = store.dialect
    ids = sorted(
        str(r["distinct_id"])
        for r in rows(
            store.query(
                f"SELECT distinct_id FROM ({person_map_sql(d, ctx)}) m "
                f"WHERE person_id = {d.str_lit(person_id)}"
            )
        )
    )
    return ids, _person_events_where(store, ctx, person_id, ids)


def resolve_distinct_id(store: EventStore, ctx: ProjectContext, distinct_id: str) -> str:
    """The person a distinct id belongs to now; NotFound when the id is unknown."""
    found = store.distinct_id_map(ctx.project_id, [distinct_id]).get(distinct_id)
    if found is None:
        raise NotFound(f"distinct id {distinct_id}")
    return found


def person_profile(
    store: EventStore,
    ctx: ProjectContext,
    person_id: str,
    *,
    days: int = 182,
    recent: int = 50,
    today: date | None = None,
    scope: tuple[list[str], str] | None = None,
) -> PersonProfile:
    """Everything the person page shows; NotFound when the id is unknown in the project.

    ``scope`` is ``person_scope``'s answer when the caller already has it.
    """
    d = store.dialect
    ids, where = scope or person_scope(store, ctx, person_id)
    person = rows(
        store.query(f"SELECT * FROM ({persons_sql(d, ctx)}) p WHERE id = {d.str_lit(person_id)}")
    )
    local_day = d.local_date("e.timestamp", ctx.timezone)
    e_ch = channel_sql(d, rules_for(ctx))  # over the raw events row ``e``, as AARRR reads it
    per_day = rows(
        store.query(
            f"SELECT {local_day} AS day, count(*) AS n, min(e.timestamp) AS f, "
            f"max(e.timestamp) AS l, {d.arg_min(e_ch, '(e.timestamp, e.uuid)')} AS ch "
            f"FROM events e WHERE {where} GROUP BY {local_day}"
        )
    )
    if not ids and not person and not per_day:
        raise NotFound(f"person {person_id}")
    latest = rows(
        store.query(
            f"SELECT e.uuid AS uuid, e.event AS event, e.timestamp AS ts, "
            f"e.distinct_id AS distinct_id, e.properties AS properties FROM events e "
            f"WHERE {where} ORDER BY e.timestamp DESC, e.uuid DESC LIMIT {int(recent)}"
        )
    )
    identify = rows(
        store.query(
            f"SELECT e.distinct_id AS distinct_id FROM events e WHERE {where} "
            f"AND e.event = {d.str_lit(IDENTIFY)} ORDER BY e.timestamp DESC, e.uuid DESC LIMIT 1"
        )
    )
    identified = str(identify[0]["distinct_id"]) if identify else None
    props = json_obj(person[0]["properties"]) if person else {}
    first = min(per_day, key=lambda r: r["f"]) if per_day else None
    end = today or ctx.today()
    start = end - timedelta(days=days - 1)
    counts = {r["day"]: int(r["n"]) for r in per_day}
    return PersonProfile(
        id=person_id,
        name=display_name(props, *ids, person_id, identified=identified),
        properties=props,
        distinct_ids=ids,
        first_seen=utc(first["f"]) if first else None,
        last_seen=utc(max(r["l"] for r in per_day)) if per_day else None,
        events=sum(counts.values()),
        first_touch_channel=str(first["ch"]) if first else None,
        active_days=len(counts),
        calendar_from=start,
        calendar_to=end,
        calendar=[
            ActivityDay(
                day=start + timedelta(days=i), events=counts.get(start + timedelta(days=i), 0)
            )
            for i in range(days)
        ],
        recent=[
            PersonEvent(
                uuid=str(r["uuid"]),
                event=str(r["event"]),
                timestamp=utc(r["ts"]),  # type: ignore[arg-type]
                distinct_id=str(r["distinct_id"]),
                properties=json_obj(r["properties"]),
            )
            for r in latest
        ],
    )
