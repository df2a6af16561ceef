"""Persons on events: each event is stamped with its person when written; merges of two
persons with history are applied at query time through ``person_overrides``.

Why: resolving every event's ``distinct_id`` through the whole id map at query time was
the largest single cost of a metric (a hash join of every scanned event with the newest
version of every distinct id: ~40% of a 30-day retention on 10M events). The stamp is
already right for almost every event, because an anonymous person keeps its id when a
user id joins it; only when two persons that both have events merge do the absorbed
person's events need redirecting. Those are the override rows, few in practice, and the
join with them is cheap.

An override names one of the absorbed person's distinct ids rather than the person it
went to: ids of a person move together from then on, so the id's *current* person is
always the right one, however many merges follow, and rows never need rewriting.
"""

from __future__ import annotations

from yunying.store.dialect import Dialect


def overrides_map_sql(dialect: Dialect, project_id: int) -> str:
    """old_person_id → person_id (current) for a project's overridden persons."""
    p = int(project_id)
    return (
        "SELECT o.old_person_id AS old_person_id, min(m.person_id) AS person_id "
        "FROM person_overrides o INNER JOIN ("
        f"SELECT distinct_id, {dialect.arg_max('person_id', 'version')} AS person_id "
        f"FROM person_distinct_ids WHERE project_id = {p} AND distinct_id IN "
        f"(SELECT distinct_id FROM person_overrides WHERE project_id = {p}) "
        "GROUP BY distinct_id"
        f") m ON m.distinct_id = o.distinct_id WHERE o.project_id = {p} "
        "GROUP BY o.old_person_id"
    )


def missing_overrides_sql(dialect: Dialect) -> str:
    """The override rows that make stored events resolve as the id map resolves them.

    Run once when a store that predates the table is opened (its events were resolved
    through the id map at query time); empty whenever the write path kept them up to
    date, which the tests check.
    """
    return (
        "SELECT e.project_id AS project_id, e.person_id AS old_person_id, "
        "min(e.distinct_id) AS distinct_id FROM events e INNER JOIN ("
        f"SELECT project_id, distinct_id, {dialect.arg_max('person_id', 'version')} "
        "AS person_id FROM person_distinct_ids GROUP BY project_id, distinct_id"
        ") m ON m.project_id = e.project_id AND m.distinct_id = e.distinct_id "
        "WHERE e.person_id <> m.person_id AND e.person_id NOT IN "
        "(SELECT old_person_id FROM person_overrides) "
        "GROUP BY e.project_id, e.person_id"
    )
