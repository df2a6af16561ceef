"""Segments: a segment with three behavioural conditions over ~10M events / 1M persons
(target <= 2 s on DuckDB), against a hand-written DuckDB query in the same run.

The segment is compiled by ``yunying.people.segments.compile`` from the DSL; the baseline
is the query one would write by hand for the same question (person resolution through
``person_distinct_ids`` included, ``count(*) FILTER`` per condition). Both must return the
same persons. A second, harder definition (a NOT, "did not", active days and a person
property, so every person of the project is looked at) is timed without a baseline.

    python bench/bench_segments.py                    # 1M persons (people_data.py)
    python bench/bench_segments.py --persons 100000   # a smaller dataset
    python bench/bench_segments.py --write-report     # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from common import log, machine, ratio, table, timed, update_report
from people_data import PERSONS, context, people_dataset

from yunying.people.segments.compile import compile_segment

TARGET_SECONDS = 2.0

THREE = {
    "op": "and",
    "conditions": [
        {"type": "behaviour", "event": "purchase", "window": {"last_days": 30}},
        {
            "type": "behaviour",
            "event": "view_content",
            "count": {"comparator": "at_least", "value": 5},
            "window": {"last_days": 14},
        },
        {
            "type": "behaviour",
            "event": "comment",
            "count": {"comparator": "at_least", "value": 2},
            "window": {"last_days": 30},
        },
    ],
}
HARDER = {
    "op": "and",
    "conditions": [
        {"type": "active_days", "at_least": 3, "last_days": 30},
        {
            "op": "not",
            "condition": {"type": "behaviour", "event": "purchase", "window": {"last_days": 60}},
        },
        {
            "op": "or",
            "conditions": [
                {
                    "type": "person_property",
                    "key": "city",
                    "operator": "in",
                    "value": ["上海", "北京"],
                },
                {"type": "behaviour", "event": "share", "did": False, "window": {"last_days": 7}},
            ],
        },
    ],
}


def baseline_sql(ctx, end):  # type: ignore[no-untyped-def]
    """The same three conditions, written by hand for DuckDB."""
    d30 = ctx.day_start_utc(end - timedelta(days=29)).replace(tzinfo=None)
    d14 = ctx.day_start_utc(end - timedelta(days=13)).replace(tzinfo=None)
    stop = ctx.day_start_utc(end + timedelta(days=1)).replace(tzinfo=None)
    p = ctx.project_id
    return f"""
    WITH m AS (
        SELECT distinct_id, arg_max(person_id, version) AS pid
        FROM person_distinct_ids WHERE project_id = {p} GROUP BY distinct_id
    )
    SELECT coalesce(m.pid, e.person_id) AS person_id
    FROM events e LEFT JOIN m ON m.distinct_id = e.distinct_id
    WHERE e.project_id = {p} AND e.event IN ('purchase', 'view_content', 'comment')
      AND e.timestamp >= TIMESTAMP '{d30}' AND e.timestamp < TIMESTAMP '{stop}'
    GROUP BY coalesce(m.pid, e.person_id)
    HAVING count(*) FILTER (WHERE e.event = 'purchase') >= 1
       AND count(*) FILTER (WHERE e.event = 'view_content'
                              AND e.timestamp >= TIMESTAMP '{d14}') >= 5
       AND count(*) FILTER (WHERE e.event = 'comment') >= 2
    """


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=PERSONS, help="people dataset size")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-report", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)

    store, _, end = people_dataset(persons=args.persons, read_only=True)
    ctx = context()
    try:
        (n_events,) = store.query("SELECT count(*) AS n FROM events").column("n").to_pylist()
        sql = compile_segment(store.dialect, ctx, THREE, today=end)
        harder = compile_segment(store.dialect, ctx, HARDER, today=end)
        base = baseline_sql(ctx, end)

        def ids(q: str):  # type: ignore[no-untyped-def]
            return lambda: store.query(q).column("person_id")

        log(f"{args.persons:,} persons, {n_events:,} events; timing {args.repeat} runs each")
        t_seg, got = timed(ids(sql), repeat=args.repeat)
        t_base, want = timed(ids(base), repeat=args.repeat)
        t_hard, hard = timed(ids(harder), repeat=args.repeat)
        same = set(got.to_pylist()) == set(want.to_pylist())
    finally:
        store.close()

    rows = [
        ["three behavioural conditions (compiled)", f"{t_seg.median:.3f}", f"{t_seg.best:.3f}",
         f"{len(got):,}", ratio(t_seg.median, t_base.median)],
        ["same, hand-written DuckDB SQL", f"{t_base.median:.3f}", f"{t_base.best:.3f}",
         f"{len(want):,}", "1.00×"],
        ["NOT + did not + active days + person property", f"{t_hard.median:.3f}",
         f"{t_hard.best:.3f}", f"{len(hard):,}", ratio(t_hard.median, t_base.median)],
    ]  # fmt: skip
    header = ["query", "median s", "best s", "members", "vs baseline"]
    verdict = "meets" if t_seg.median <= TARGET_SECONDS else "MISSES"
    body = (
        f"{args.persons:,} persons, {n_events:,} events (bench/people_data.py), DuckDB.\n\n"
        + table(rows, header)
        + f"\n\nSame members as the baseline: {'yes' if same else 'NO'}. Target <= "
        f"{TARGET_SECONDS:.0f} s for three behavioural conditions: {verdict} "
        f"({t_seg.median:.2f} s median).\n"
    )
    print()
    print(machine())
    print(body)
    if args.write_report:
        update_report("segments", "Segments (three behavioural conditions)", body)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
