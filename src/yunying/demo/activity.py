"""Day-to-day behaviour after signup: sessions of browsing, interacting, posting, paying.

Model, per person: an active spell ending at a per-person churn time (hazard from the
channel and engagement), optionally a dormant gap and a shorter resurrected spell. On
each alive day the person is active with a probability that decays with account age and
peaks at weekends. Each active day has sessions; each session has page views, content
views and, per view, chances to like, comment or share. Everything is drawn as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yunying.demo import catalog as cat
from yunying.demo.acquisition import CHANNEL_KEYS
from yunying.demo.arrays import group_cumsum, position, runs, starts
from yunying.demo.calendar import DAY, Calendar
from yunying.demo.content import Content
from yunying.demo.frame import EventLog, categorical, take
from yunying.demo.ids import hex_ids, numbered
from yunying.demo.population import Persons, session_second


@dataclass
class Shares:
    """Shares and invites that others may open (``sharer`` is a global person index)."""

    t: np.ndarray
    sharer: np.ndarray
    share_id: np.ndarray
    invite: np.ndarray  # True: invite_sent (invite page); False: content share

    @staticmethod
    def concat(parts: list[Shares]) -> Shares:
        return Shares(
            *(np.concatenate([getattr(s, f) for s in parts]) for f in Shares.__annotations__)
        )


def active_days(rng: np.random.Generator, p: Persons, cal: Calendar) -> np.ndarray:
    """(n, days) bool: the person did something that day (signup day always)."""
    day = np.arange(cal.days)
    sday = (p.signup_t // DAY)[:, None]
    age = (day[None, :] - sday).astype(np.float64)
    l1, gap, l2 = p.life1[:, None], p.gap[:, None], p.life2[:, None]
    alive = (age >= 0) & ((age < l1) | ((age >= l1 + gap) & (age < l1 + gap + l2)))
    weekday = cat.WEEKDAY[cal.weekday()][None, :]
    base = np.clip(0.3 * p.engagement, 0.03, 0.92)[:, None]
    decay = 0.55 + 0.45 * np.exp(-np.maximum(age, 0) / 21.0)
    prob = np.where(
        p.activated[:, None], base * decay * weekday, np.where(age <= 6, 0.05, 0.0) * weekday
    )
    return (alive & (rng.random(prob.shape) < prob)) | (age == 0)


def _common(p: Persons, who: np.ndarray) -> dict[str, object]:
    return {
        "channel": categorical(p.channel[who], CHANNEL_KEYS),
        "$os": categorical(p.device[who], cat.DEVICES),
    }


def simulate(
    rng: np.random.Generator,
    p: Persons,
    offset: int,
    cal: Calendar,
    content: Content,
    log: EventLog,
    post_counter: list[int],
) -> Shares:
    """Add the behaviour of batch ``p`` (global indices ``offset``…) to ``log``."""
    pi, di = np.nonzero(active_days(rng, p, cal))
    sday = p.signup_t // DAY
    signup_sod = p.signup_t % DAY
    act = p.activated[pi]
    eng = np.clip(p.engagement[pi], 0.0, 3.0)
    on_signup_day = di == sday[pi]

    # ---- sessions ----------------------------------------------------------------------
    n_sess = np.where(act, 1 + rng.poisson(0.35 + 0.45 * eng), 1)
    s_pd = np.repeat(np.arange(len(pi)), n_sess)
    s_p, s_first = pi[s_pd], position(n_sess) == 0
    sod = session_second(rng, len(s_pd))
    sign = on_signup_day[s_pd]
    after = signup_sod[s_p] + np.where(
        s_first, rng.integers(30, 120, len(s_pd)), rng.integers(600, 6 * 3600, len(s_pd))
    )
    sod = np.where(sign, np.where(s_first, after, np.maximum(sod, after)), sod)
    s_t = di[s_pd] * DAY + sod
    s_act = act[s_pd]
    s_eng = eng[s_pd]

    # ---- page views --------------------------------------------------------------------
    n_pv = 1 + rng.poisson(np.where(s_act, 0.7, 0.4))
    pv_s = np.repeat(np.arange(len(s_t)), n_pv)
    pv_gap = rng.integers(5, 50, len(pv_s))
    pv_t = s_t[pv_s] + group_cumsum(pv_gap, n_pv) - pv_gap
    page = rng.choice(len(cat.PAGES), len(pv_s), p=cat.normalised(cat.PAGE_WEIGHTS))
    page[position(n_pv) == 0] = 0
    who = s_p[pv_s]
    log.add(
        "$pageview",
        p.user_id[who],
        pv_t,
        **{"$current_url": categorical(page, [cat.APP_ORIGIN + u for u in cat.PAGES])},
        **_common(p, who),
    )
    pv_end = s_t + group_cumsum(pv_gap, n_pv)[starts(n_pv) + n_pv - 1]

    # ---- content views and what follows them -------------------------------------------
    n_view = np.where(s_act, rng.poisson(2.6 + 2.4 * s_eng), 0)
    n_view = np.where(s_act & sign & s_first, np.maximum(n_view, 3), n_view)
    v_s = np.repeat(np.arange(len(s_t)), n_view)
    v_gap = (rng.exponential(40.0, len(v_s)) + 8).astype(np.int64)
    v_t = pv_end[v_s] + group_cumsum(v_gap, n_view)
    v_p = s_p[v_s]
    code = content.sample(rng, p.fav[v_p])
    category = content.category(code)
    content_props = {
        "$content_id": content.ids[code],
        "category": categorical(category, cat.CATEGORIES),
    }
    log.add("content_view", p.user_id[v_p], v_t, **content_props, **_common(p, v_p))

    like = rng.random(len(v_s)) < 0.10 + 0.05 * np.clip(p.engagement[v_p], 0, 2)
    log.add(
        "content_liked",
        p.user_id[v_p[like]],
        v_t[like] + rng.integers(3, 30, int(like.sum())),
        **{k: take(v, like) for k, v in content_props.items()},
        **_common(p, v_p[like]),
    )
    comment = rng.random(len(v_s)) < 0.035
    log.add(
        "comment_created",
        p.user_id[v_p[comment]],
        v_t[comment] + rng.integers(20, 180, int(comment.sum())),
        **{k: take(v, comment) for k, v in content_props.items()},
        **_common(p, v_p[comment]),
    )
    share = rng.random(len(v_s)) < p.sharer[v_p]
    n_share = int(share.sum())
    share_t = v_t[share] + rng.integers(5, 45, n_share)
    share_ids = hex_ids(rng, n_share, "sh_", 8)
    log.add(
        "share",
        p.user_id[v_p[share]],
        share_t,
        share_id=share_ids,
        share_target=categorical(
            rng.choice(4, n_share, p=cat.normalised(cat.SHARE_TARGET_WEIGHTS)), cat.SHARE_TARGETS
        ),
        **{k: take(v, share) for k, v in content_props.items()},
        **_common(p, v_p[share]),
    )
    session_end = pv_end.copy()
    viewed = n_view > 0
    session_end[viewed] = v_t[(starts(n_view) + n_view - 1)[viewed]]

    # ---- posts -------------------------------------------------------------------------
    n_post = np.where(s_act, rng.poisson(p.creator[s_p]), 0)
    po_s = np.repeat(np.arange(len(s_t)), n_post)
    po_p = s_p[po_s]
    n_po = len(po_s)
    post_ids = numbered("p", np.arange(post_counter[0], post_counter[0] + n_po))
    post_counter[0] += n_po
    po_cat = np.where(rng.random(n_po) < 0.8, p.fav[po_p, 0], p.fav[po_p, 1])
    log.add(
        "post_created",
        p.user_id[po_p],
        session_end[po_s] + rng.integers(60, 900, n_po),
        **{"$content_id": post_ids, "category": categorical(po_cat, cat.CATEGORIES)},
        has_image=rng.random(n_po) < 0.7,
        **_common(p, po_p),
    )

    # ---- once per active day: check-in, invites, purchases ----------------------------
    day_start = np.minimum.reduceat(s_t, starts(n_sess)) if len(s_t) else s_t
    checked = act & (rng.random(len(pi)) < p.checkin[pi])
    c_p, c_d = pi[checked], di[checked]
    streak = runs(c_p, c_d)  # (pi, di) come sorted by person, then day
    log.add(
        "check_in",
        p.user_id[c_p],
        day_start[checked] + rng.integers(2, 20, int(checked.sum())),
        streak=streak,
        points=np.where(streak % 7 == 0, 20, 5),
        **_common(p, c_p),
    )
    invited = act & (rng.random(len(pi)) < p.inviter[pi])
    n_inv = int(invited.sum())
    inv_t = day_start[invited] + rng.integers(30, 900, n_inv)
    inv_ids = hex_ids(rng, n_inv, "iv_", 8)
    log.add(
        "invite_sent",
        p.user_id[pi[invited]],
        inv_t,
        share_id=inv_ids,
        invite_channel=categorical(rng.choice(2, n_inv, p=[0.8, 0.2]), ["wechat_session", "qq"]),
        **_common(p, pi[invited]),
    )
    paid = p.payer[pi] & (rng.random(len(pi)) < 0.07 + 0.08 * on_signup_day)
    n_paid = int(paid.sum())
    product_weights = np.array([w for _, _, w in cat.PRODUCTS], dtype=float)
    product = rng.choice(len(cat.PRODUCTS), n_paid, p=cat.normalised(product_weights))
    price = np.array([pr for _, pr, _ in cat.PRODUCTS])[product]
    log.add(
        "purchase",
        p.user_id[pi[paid]],
        day_start[paid] + rng.integers(120, 1800, n_paid),
        product=categorical(product, [name for name, _, _ in cat.PRODUCTS]),
        currency="CNY",
        order_id=hex_ids(rng, n_paid, "o_", 8),
        **{"$revenue": price},
        **_common(p, pi[paid]),
    )
    return Shares(
        t=np.concatenate([share_t, inv_t]),
        sharer=offset + np.concatenate([v_p[share], pi[invited]]),
        share_id=np.concatenate([share_ids, inv_ids]),
        invite=np.concatenate([np.zeros(n_share, bool), np.ones(n_inv, bool)]),
    )
