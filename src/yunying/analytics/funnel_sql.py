"""Funnel SQL: one CTE chain, shared by the step counts and the persons lists.

Times are integer microseconds (``tus``) so ties and the window edge compare exactly.
Ordered mode chains ASOF joins: for a fixed entry, matching each next step to the
earliest qualifying event is optimal, so "next step-k event strictly after t(k-1)" per
attempt is all it takes. Strict mode numbers every event per person and joins on
``rn + k - 1``. Unordered mode finds, per anchor event, each step's next event with a
running min window (steps used more than once: running totals looked up with ASOF joins).
Everything is set-based, so it scales with the engine rather than with the number of
events per person.

Ordered mode reads each step's events with its own scan (``event = …``, which the
engines push into the scan), joined straight to ``pb``, the persons who entered: that
join keeps only events between a person's first entry and last entry plus the window,
and numbers the persons (``pk``) so the ASOF joins sort integers, not 36-character person
ids. No wide, string-keyed event set is materialised, and on ClickHouse, which inlines
every CTE at each reference, each reference reads only its own step's events. Strict and
unordered modes read one ``ev`` (events flagged per step); their per-person flags and
breakdown ranks are window functions, not self-joins, so apart from ``ev`` each CTE is
read once.

Ordered and strict modes pick the best attempt with two aggregations, not a window sort:
per (person, reached) the earliest entry, then per person the furthest reached.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING

from yunying.analytics.common import NONE, OTHER, Breakdown, EventSelector
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import filters_sql
from yunying.analytics.source import events_sql
from yunying.events.model import NUMERIC_PROMOTED, PROMOTED_PROPERTIES
from yunying.store.dialect import Dialect
from yunying.store.event_timelines import micros

if TYPE_CHECKING:
    from yunying.analytics.funnels import FunnelQuery


def entry_dates(ctx: ProjectContext, q: FunnelQuery) -> tuple[date, date]:
    """The local days in which a person may enter the funnel."""
    return q.date_range.resolve(ctx)


def _match(dialect: Dialect, sel: EventSelector) -> str:
    """1 when the event row (alias ``e``, person ``p``) matches the selector, else 0."""
    cond = f"e.event = {dialect.str_lit(sel.event)}"
    if sel.filters:
        cond += " AND " + filters_sql(dialect, sel.filters, event_alias="e", person_alias="p")
    return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


def _breakdown_expr(dialect: Dialect, b: Breakdown) -> str:
    """The breakdown value as text; '$none' when unset (never NULL, so it groups)."""
    if b.type == "person":
        expr = dialect.json_str("p.properties", b.property)
    else:
        column = PROMOTED_PROPERTIES.get(b.property)
        if column is not None and column not in NUMERIC_PROMOTED:
            expr = f"e.{column}"
        else:  # numbers read from JSON keep one spelling on both engines
            expr = dialect.json_str("e.properties", b.property)
    return f"coalesce({expr}, {dialect.str_lit(NONE)})"


def _ev(dialect: Dialect, ctx: ProjectContext, q: FunnelQuery) -> str:
    """Strict and unordered modes: the events the funnel sees, one 0/1 flag per step (s1…)
    and per exclusion (x1…)."""
    start, end = ctx.day_range_utc(*entry_dates(ctx, q))
    cols = [f"{dialect.epoch_micros('e.ts')} AS tus"]
    cols += [f"{_match(dialect, s)} AS s{k}" for k, s in enumerate(q.steps, 1)]
    cols += [f"{_match(dialect, x)} AS x{j}" for j, x in enumerate(q.exclusions, 1)]
    if q.breakdown is not None:
        cols.append(f"{_breakdown_expr(dialect, q.breakdown)} AS bd")
    strict = q.mode == "strict"
    selectors = [*q.steps, *q.exclusions]
    names = None if strict else [s.event for s in selectors]
    base = events_sql(
        dialect,
        ctx,
        start=start,
        end=end + timedelta(seconds=q.window_seconds),
        event_names=names,
        filters=q.filters,
        columns=cols,
    )
    flags = [f"s{k}" for k in range(1, len(q.steps) + 1)]
    flags += [f"x{j}" for j in range(1, len(q.exclusions) + 1)]
    keep = ", ".join(["pid", "tus", "uuid", *flags, *(["bd"] if q.breakdown else [])])
    if strict:  # the person's whole event sequence, numbered: "very next" is rn + 1
        return (
            f"SELECT {keep}, row_number() OVER (PARTITION BY pid ORDER BY tus, uuid) AS rn "
            f"FROM ({base}) b"
        )
    if not any(s.filters for s in selectors):  # the scan's event names are the flags
        return f"SELECT {keep} FROM ({base}) b"
    return f"SELECT {keep} FROM ({base}) b WHERE {' OR '.join(f'{f} = 1' for f in flags)}"


def _entry(ctx: ProjectContext, q: FunnelQuery, alias: str = "") -> str:
    start, end = ctx.day_range_utc(*entry_dates(ctx, q))
    return f"{alias}tus >= {micros(start)} AND {alias}tus < {micros(end)}"


def _scan(
    dialect: Dialect, ctx: ProjectContext, q: FunnelQuery, sel: EventSelector, *, entry: bool
) -> str:
    """``pid, tus`` of the events one selector matches (after the global filters): entries
    in the entry range, later steps up to the range end plus the window. Entries also carry
    ``uuid, bd`` when there is a breakdown (ties at one instant matter only for it)."""
    start, end = ctx.day_range_utc(*entry_dates(ctx, q))
    if not entry:
        end += timedelta(seconds=q.window_seconds)
    cols = [f"{dialect.epoch_micros('e.ts')} AS tus"]
    if entry and q.breakdown is not None:
        cols.append(f"{_breakdown_expr(dialect, q.breakdown)} AS bd")
    base = events_sql(
        dialect,
        ctx,
        start=start,
        end=end,
        event_names=[sel.event],
        filters=[*q.filters, *sel.filters],
        columns=cols,
    )
    return f"SELECT pid, tus{', uuid, bd' if len(cols) > 1 else ''} FROM ({base}) b"


def _attempts(
    q: FunnelQuery, out: list[tuple[str, str]], key: str, chain: str, valid: list[str]
) -> None:
    """Append ``att``: one row per attempt with t1…tn, reached, xcl (and u1, bd).

    ``chain`` has t1…tn and xn1… per attempt; ``valid[k - 2]`` says the attempt's chain
    reached step k. t_k is meaningful only for k <= reached. ``xcl`` = 1 when an exclusion
    event lies strictly between this attempt's matched steps a and b.
    """
    n = len(q.steps)
    tb = ", u1, bd" if q.breakdown else ""
    out.append(("chain", chain))
    reached = " ".join(f"WHEN {' AND '.join(valid[: k - 1])} THEN {k}" for k in range(n, 1, -1))
    times = ", ".join(f"t{k}" for k in range(1, n + 1))
    xn = "".join(f", xn{j}" for j in range(1, len(q.exclusions) + 1))
    hits = " OR ".join(
        f"(reached >= {x.to_step} AND xn{j} < t{x.to_step})" for j, x in enumerate(q.exclusions, 1)
    )
    out.append(
        (
            "att",
            f"SELECT {key}, {times}{tb}, reached, "
            f"{f'CASE WHEN {hits} THEN 1 ELSE 0 END' if hits else '0'} AS xcl "
            f"FROM (SELECT {key}, {times}{tb}{xn}, CASE {reached} ELSE 1 END AS reached "
            f"FROM chain) c",
        )
    )


def _ordered_ctes(dialect: Dialect, ctx: ProjectContext, q: FunnelQuery) -> list[tuple[str, str]]:
    """Ordered: ``en`` (entries), ``pb`` (persons who entered), ``st2``… (step events that
    an attempt can reach), ``chain`` and ``att`` keyed by the person number ``pk``."""
    n, w = len(q.steps), q.window_seconds * 1_000_000
    bd = q.breakdown is not None
    extra = ["uuid", "bd"] if bd else []
    out = [("en", _scan(dialect, ctx, q, q.steps[0], entry=True))]
    # Later matches lie in (first entry, last entry + window]. pk numbers the persons
    # deterministically, so ClickHouse's inlined copies of pb agree.
    out.append(
        (
            "pb",
            "SELECT pid, dense_rank() OVER (ORDER BY pid) AS pk, lo, hi FROM (SELECT pid, "
            f"min(tus) AS lo, max(tus) + {w} AS hi FROM en GROUP BY pid) g",
        )
    )

    def candidates(sel: EventSelector) -> str:
        return (
            f"SELECT pb.pk AS pk, s.tus AS tus FROM ({_scan(dialect, ctx, q, sel, entry=False)}) "
            "s INNER JOIN pb ON pb.pid = s.pid WHERE s.tus > pb.lo AND s.tus <= pb.hi"
        )

    keep = ", ".join(["pb.pk AS pk", "en.tus AS tus", *(f"en.{c} AS {c}" for c in extra)])
    cols = ["a.pk AS pk", "a.tus AS t1", *(["a.uuid AS u1", "a.bd AS bd"] if bd else [])]
    joins, valid = [], []
    for k in range(2, n + 1):  # the earliest step-k event after the previous match
        prev = "a.tus" if k == 2 else f"e{k - 1}.tus"
        # An attempt that missed step k - 1 gets a NULL key: it matches nothing and costs
        # the join less (a NULL t_k is as unread as any t_k past reached).
        on = "a.pk" if k == 2 else f"CASE WHEN {prev} <= a.tus + {w} THEN a.pk END"
        out.append((f"st{k}", candidates(q.steps[k - 1])))
        joins.append(f"ASOF LEFT JOIN st{k} e{k} ON e{k}.pk = {on} AND e{k}.tus > {prev}")
        cols.append(f"e{k}.tus AS t{k}")
        valid.append(f"t{k} <= t1 + {w}")  # beyond the window = miss
    for j, x in enumerate(q.exclusions, 1):
        at_a = "a.tus" if x.from_step == 1 else f"e{x.from_step}.tus"
        out.append((f"xe{j}", candidates(x)))
        joins.append(f"ASOF LEFT JOIN xe{j} x{j} ON x{j}.pk = a.pk AND x{j}.tus > {at_a}")
        cols.append(f"x{j}.tus AS xn{j}")
    chain = (
        f"SELECT {', '.join(cols)} FROM (SELECT {keep} FROM en INNER JOIN pb "
        f"ON pb.pid = en.pid) a {' '.join(joins)}"
    )
    _attempts(q, out, "pk", chain, valid)
    return out


def _strict_ctes(ctx: ProjectContext, q: FunnelQuery) -> list[tuple[str, str]]:
    """Strict: ``chain``/``att`` keyed by ``pid``; step k is event number rn + k - 1."""
    n, w = len(q.steps), q.window_seconds * 1_000_000
    bd = ", a.uuid AS u1, a.bd AS bd" if q.breakdown else ""
    cols = [f"a.pid AS pid, a.tus AS t1{bd}"]
    joins, valid = [], []
    for k in range(2, n + 1):
        cols += [f"e{k}.tus AS t{k}", f"e{k}.s{k} AS f{k}"]
        joins.append(f"LEFT JOIN ev e{k} ON e{k}.pid = a.pid AND e{k}.rn = a.rn + {k - 1}")
        # Steps are separate look-ups, so reaching k needs every step before it too.
        valid.append(f"f{k} = 1 AND t{k} > t{k - 1} AND t{k} <= t1 + {w}")
    for j, x in enumerate(q.exclusions, 1):
        at_a = "a.tus" if x.from_step == 1 else f"e{x.from_step}.tus"
        joins.append(f"ASOF LEFT JOIN xe{j} x{j} ON x{j}.pid = a.pid AND x{j}.tus > {at_a}")
        cols.append(f"x{j}.tus AS xn{j}")
    out = [
        (f"xe{j}", f"SELECT pid, tus FROM ev WHERE x{j} = 1")
        for j in range(1, len(q.exclusions) + 1)
    ]
    entries = (
        f"SELECT pid, tus, rn{', uuid, bd' if q.breakdown else ''} FROM ev "
        f"WHERE s1 = 1 AND {_entry(ctx, q)}"
    )
    chain = f"SELECT {', '.join(cols)} FROM ({entries}) a {' '.join(joins)}"
    _attempts(q, out, "pid", chain, valid)
    return out


def _best_chain(dialect: Dialect, q: FunnelQuery, key: str, name: str) -> tuple[str, str]:
    """Ordered/strict: each person's best attempt (furthest step, then earliest entry, then
    uuid), unless any attempt of the person hit an exclusion.

    Two aggregations instead of a window sort over all attempts: per (person, reached) the
    earliest entry's times, then per person the row with the furthest reach. Attempts with
    the same reach and entry time have the same times (ordered: the match is a function of
    the entry time; strict: of two entries at one instant only the last can reach step 2),
    so only the breakdown value needs the uuid tie-break. The aggregates may skip NULLs,
    which only ever hides t_k for k > reached: those are never read.
    """
    n = len(q.steps)
    times = [f"t{k}" for k in range(2, n + 1)]
    # Fresh names at each level: ClickHouse resolves a name to a SELECT alias first.
    inner = ["min(t1) AS a1", *(f"{dialect.arg_min(t, 't1')} AS a{t[1:]}" for t in times)]
    outer = [f"{dialect.arg_max(f'a{k}', 'r')} AS t{k}" for k in range(1, n + 1)]
    if q.breakdown:
        inner.append(f"{dialect.arg_min('bd', '(t1, u1)')} AS abd")
        outer.append(f"{dialect.arg_max('abd', 'r')} AS bd")
    keep = ", ".join([key, "reached", "t1", *times, *(["bd"] if q.breakdown else [])])
    return (
        name,
        f"SELECT {keep} FROM (SELECT {key}, max(r) AS reached, max(ix) AS px, "
        f"{', '.join(outer)} FROM (SELECT {key}, reached AS r, max(xcl) AS ix, "
        f"{', '.join(inner)} FROM att GROUP BY {key}, reached) a GROUP BY {key}) b "
        "WHERE px = 0",
    )


def _best_cte(q: FunnelQuery, name: str, cols: list[str]) -> tuple[str, str]:
    """Unordered: each person's best attempt (furthest step, then earliest anchor, then
    uuid). A window, not aggregates: a NULL next time here means "step not done"."""
    keep = ", ".join(["pid", "u1", "t1", "reached", *cols, *(["bd"] if q.breakdown else [])])
    return (
        name,
        f"SELECT {keep} FROM (SELECT {keep}, row_number() OVER (PARTITION BY pid "
        f"ORDER BY reached DESC, t1, u1) AS rk, max(xcl) OVER (PARTITION BY pid) AS px "
        f"FROM att) r WHERE rk = 1 AND px = 0",
    )


def _step_groups(q: FunnelQuery) -> list[list[int]]:
    """Steps with identical selectors, as lists of 1-based step numbers."""
    groups: dict[str, list[int]] = {}
    for k, s in enumerate(q.steps, 1):
        key = json.dumps([s.event, [f.model_dump(mode="json") for f in s.filters]])
        groups.setdefault(key, []).append(k)
    return list(groups.values())


def _unordered_ctes(ctx: ProjectContext, q: FunnelQuery) -> list[tuple[str, str]]:
    """Unordered: per anchor, distinct steps done in [anchor, anchor + window].

    A step used once (group size 1) is done when its next event at or after the anchor,
    a running min over the rest of the person's events, is inside the window. A step used
    m > 1 times counts min(m, events in window): running totals at the last event
    <= window end and the last event < anchor, looked up with ASOF joins. (ClickHouse caps
    RANGE frame offsets at 32 bits, so a windowed count frame is not portable.)
    Times: the completing events of the best attempt (the next event of each single step,
    the first m events of each repeated one) are ranked; the k-th completes step k.
    """
    n, w = len(q.steps), q.window_seconds * 1_000_000
    groups = list(enumerate(_step_groups(q), 1))
    single = [(i, g) for i, g in groups if len(g) == 1]
    multi = [(i, g) for i, g in groups if len(g) > 1]
    bd = ", bd" if q.breakdown else ""
    frame = "OVER (PARTITION BY pid ORDER BY tus RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"
    nexts = "".join(f", min(CASE WHEN s{g[0]} = 1 THEN tus END) {frame} AS n{i}" for i, g in single)
    out = [("nx", f"SELECT pid, uuid, tus, tus + {w} AS tend{bd}{nexts} FROM ev")]
    for i, g in multi:
        out.append(
            (
                f"cg{i}",
                "SELECT pid, tus, sum(cnt) OVER (PARTITION BY pid ORDER BY tus ROWS BETWEEN "
                "UNBOUNDED PRECEDING AND CURRENT ROW) AS cl FROM (SELECT pid, tus, count(*) "
                f"AS cnt FROM ev WHERE s{g[0]} = 1 GROUP BY pid, tus) g",
            )
        )
        out.append(
            (
                f"gn{i}",
                "SELECT pid, tus, row_number() OVER (PARTITION BY pid ORDER BY tus, uuid) "
                f"AS idx FROM ev WHERE s{g[0]} = 1",
            )
        )
    joins = "".join(
        f" ASOF LEFT JOIN cg{i} h{i} ON a.pid = h{i}.pid AND h{i}.tus <= a.tend"
        f" ASOF LEFT JOIN cg{i} l{i} ON a.pid = l{i}.pid AND l{i}.tus < a.tus"
        for i, _ in multi
    )
    done = [f"CASE WHEN a.n{i} <= a.tend THEN 1 ELSE 0 END" for i, _ in single]
    done += [f"least(coalesce(h{i}.cl, 0) - coalesce(l{i}.cl, 0), {len(g)})" for i, g in multi]
    carry = [f"n{i}" for i, _ in single] + [f"b{i}" for i, _ in multi]
    att_cols = [f"a.n{i} AS n{i}" for i, _ in single]
    att_cols += [f"coalesce(l{i}.cl, 0) AS b{i}" for i, _ in multi]
    out.append(
        (
            "att",
            f"SELECT a.pid AS pid, a.uuid AS u1, a.tus AS t1{', a.bd AS bd' if bd else ''}, "
            f"{', '.join(att_cols)}, {' + '.join(done)} AS reached, 0 AS xcl "
            f"FROM nx a{joins} WHERE {_entry(ctx, q, 'a.')}",
        )
    )
    out.append(_best_cte(q, "best0", carry))
    # Candidate completion times c1…cn of the best attempt (NULL or > window end: none).
    cands = [f"b.n{i}" for i, _ in single]
    cand_joins = []
    for i, g in multi:
        for j in range(1, len(g) + 1):
            cands.append(f"g{i}_{j}.tus")
            cand_joins.append(
                f"LEFT JOIN gn{i} g{i}_{j} ON g{i}_{j}.pid = b.pid AND g{i}_{j}.idx = b.b{i} + {j}"
            )
    keep = f"pid, reached, t1{bd}"
    out.append(
        (
            "cand",
            f"SELECT b.pid AS pid, b.reached AS reached, b.t1 AS t1"
            f"{', b.bd AS bd' if bd else ''}, "
            + ", ".join(f"{c} AS c{p}" for p, c in enumerate(cands, 1))
            + f" FROM best0 b {' '.join(cand_joins)}",
        )
    )
    ok = {p: f"c{p} <= t1 + {w}" for p in range(1, n + 1)}
    ranks = []
    for p in range(1, n + 1):
        before = " + ".join(
            f"CASE WHEN {ok[r]} AND c{r} {'<=' if r < p else '<'} c{p} THEN 1 ELSE 0 END"
            for r in range(1, n + 1)
            if r != p
        )
        ranks.append(f"CASE WHEN {ok[p]} THEN 1 + {before} ELSE 0 END AS r{p}")
    cs = ", ".join(f"c{p}" for p in range(1, n + 1))
    out.append(("ranks", f"SELECT {keep}, {cs}, {', '.join(ranks)} FROM cand"))
    tks = ", ".join(
        "CASE " + " ".join(f"WHEN r{p} = {k} THEN c{p}" for p in range(1, n + 1)) + f" END AS t{k}"
        for k in range(2, n + 1)
    )
    out.append(("best", f"SELECT {keep}, {tks} FROM ranks"))
    return out


def funnel_ctes(dialect: Dialect, ctx: ProjectContext, q: FunnelQuery) -> str:
    """``WITH …`` ending in ``fp``: one row per counted person (pid, reached, t1…tn, bv)."""
    n = len(q.steps)
    times = ", ".join(f"t{k}" for k in range(1, n + 1))
    if q.mode == "ordered":
        ctes = _ordered_ctes(dialect, ctx, q)
        ctes.append(_best_chain(dialect, q, "pk", "bk"))
        # Person ids only now: one 36-character string per counted person.
        keep = ", ".join(["reached", *(f"t{k}" for k in range(1, n + 1))])
        keep += ", bd" if q.breakdown else ""
        ctes.append(
            ("best", f"SELECT pb.pid AS pid, {keep} FROM bk INNER JOIN pb ON pb.pk = bk.pk")
        )
    else:
        ctes = [("ev", _ev(dialect, ctx, q))]
        if q.mode == "unordered":
            ctes += _unordered_ctes(ctx, q)
        else:
            ctes += _strict_ctes(ctx, q)
            ctes.append(_best_chain(dialect, q, "pid", "best"))
    if q.breakdown is None:
        ctes.append(("fp", f"SELECT pid, reached, {times} FROM best"))
    else:  # values ranked by persons (then value); past the limit they merge into $other
        ctes.append(
            (
                "fp",
                f"SELECT pid, reached, {times}, CASE WHEN brank <= {int(q.breakdown.limit)} "
                f"THEN bd ELSE {dialect.str_lit(OTHER)} END AS bv FROM (SELECT pid, reached, "
                f"{times}, bd, dense_rank() OVER (ORDER BY bsize DESC, bd) AS brank FROM "
                f"(SELECT pid, reached, {times}, bd, count(*) OVER (PARTITION BY bd) AS bsize "
                f"FROM best) s) r",
            )
        )
    return "WITH\n" + ",\n".join(f"{name} AS (\n  {body}\n)" for name, body in ctes)


def _aggregates(dialect: Dialect, n: int) -> str:
    parts = [f"sum(CASE WHEN reached >= {k} THEN 1 ELSE 0 END) AS n{k}" for k in range(1, n + 1)]
    for k in range(2, n + 1):
        delta = f"CASE WHEN reached >= {k} THEN (t{k} - t{k - 1}) / 1e6 END"
        parts.append(f"avg({delta}) AS avg{k}")
        parts.append(f"{dialect.median(delta)} AS med{k}")
    return ", ".join(parts)


def build_funnel_sql(dialect: Dialect, ctx: ProjectContext, q: FunnelQuery) -> str:
    """Rows: ``lvl`` 0 = all persons; ``lvl`` 1 = one per breakdown value ``bv``.

    Columns n1…nN (persons reaching at least step k), avg2…/med2… (seconds from step k-1).
    """
    aggs = _aggregates(dialect, len(q.steps))
    ctes = funnel_ctes(dialect, ctx, q)
    if q.breakdown is None:
        return f"{ctes}\nSELECT 0 AS lvl, {aggs} FROM fp"
    return (
        f"{ctes}\nSELECT * FROM (SELECT 0 AS lvl, '' AS bv, {aggs} FROM fp\n"
        f"UNION ALL SELECT 1 AS lvl, bv, {aggs} FROM fp GROUP BY bv) u"
    )


def build_funnel_persons_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    q: FunnelQuery,
    *,
    step: int,
    dropped: bool = False,
    limit: int = 100,
    offset: int = 0,
    breakdown_value: str | None = None,
) -> str:
    """Person ids who reached at least ``step`` (or exactly it, with ``dropped``)."""
    where = f"reached {'=' if dropped else '>='} {int(step)}"
    if breakdown_value is not None:
        if q.breakdown is None:
            raise ValueError("breakdown_value needs a funnel with a breakdown")
        where += f" AND bv = {dialect.str_lit(breakdown_value)}"
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    return (
        f"{funnel_ctes(dialect, ctx, q)}\nSELECT pid FROM fp WHERE {where} "
        f"ORDER BY pid LIMIT {int(limit)} OFFSET {int(offset)}"
    )
