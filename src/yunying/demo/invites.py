"""Share chains: who opens a share or invite, and which openers sign up.

A share (content ``share`` or ``invite_sent``) is opened by a few people: mostly new
visitors (anonymous device ids), some existing users. A new visitor who stays long enough
may sign up and becomes a person acquired through ``wechat_share`` (content share) or
``referral`` (invite), with ``referrer`` pointing at the sharer, so chains can go on for
several generations and the K-factor is computable from the events.
"""

from __future__ import annotations

import numpy as np

from yunying.demo import catalog as cat
from yunying.demo.activity import Shares
from yunying.demo.calendar import DAY, Calendar
from yunying.demo.frame import EventLog, categorical, take
from yunying.demo.ids import uuid4s
from yunying.demo.population import Persons, make_persons

SHARE_REFERRERS = ["https://mp.weixin.qq.com/", "https://mp.weixin.qq.com/"]


def _existing_openers(
    rng: np.random.Generator, t: np.ndarray, known_signup_t: np.ndarray
) -> np.ndarray:
    """A random person already signed up at each time ``t`` (-1 when nobody is)."""
    order = np.argsort(known_signup_t, kind="stable")
    before = np.searchsorted(known_signup_t[order], t)
    pick = np.floor(rng.random(len(t)) * before).astype(np.int64)
    return np.where(before > 0, order[np.minimum(pick, len(order) - 1)], -1)


def open_shares(
    rng: np.random.Generator,
    shares: Shares,
    known_signup_t: np.ndarray,
    known_user_id: np.ndarray,
    cal: Calendar,
    log: EventLog,
    capacity: int,
) -> Persons:
    """Log ``share_opened`` events; return the openers who sign up (at most ``capacity``)."""
    opens = rng.poisson(np.where(shares.invite, 1.8, 1.2))
    o = np.repeat(np.arange(len(shares.t)), opens)
    n = len(o)
    invite = shares.invite[o]
    t = shares.t[o] + (rng.exponential(3 * 3600.0, n) + 30).astype(np.int64)
    is_user = rng.random(n) < np.where(invite, 0.15, 0.4)
    existing = np.where(is_user, _existing_openers(rng, t, known_signup_t), -1)
    new = existing < 0
    anon = uuid4s(rng, n)
    distinct_id = np.where(new, anon, known_user_id[np.maximum(existing, 0)])
    dwell = np.clip(rng.lognormal(3.3, 1.0, n), 1, 1800).astype(np.int64)
    kind = invite.astype(np.int16)
    props = {
        "share_id": shares.share_id[o],
        "sharer_id": known_user_id[shares.sharer[o]],
        "dwell_seconds": dwell,
        "$referrer": categorical(kind, SHARE_REFERRERS),
        "$current_url": np.char.add(f"{cat.APP_ORIGIN}/s/".encode(), shares.share_id[o]),
    }
    channel = categorical(kind, ["wechat_share", "referral"])
    for mask, visitor in ((new, True), (~new, False)):
        subset = {k: take(v, mask) for k, v in props.items()}
        if visitor:  # the H5 page's channel; an app user keeps their own
            subset["channel"] = take(channel, mask)
        log.add("share_opened", distinct_id[mask], t[mask], **subset)

    # Who signs up: invites convert better than content shares; longer reads convert better.
    p_signup = np.where(invite, 0.45, 0.22) * np.clip(dwell / 40.0, 0.2, 2.0)
    signup_t = t + np.where(
        rng.random(n) < 0.8, rng.uniform(30, 1800, n), rng.uniform(DAY / 2, 3 * DAY, n)
    ).astype(np.int64)
    joins = new & (rng.random(n) < p_signup) & (signup_t < cal.end)
    idx = np.flatnonzero(joins)
    idx = idx[np.argsort(signup_t[idx], kind="stable")][: max(capacity, 0)]
    return make_persons(
        rng,
        np.where(invite[idx], cat.REFERRAL, cat.WECHAT_SHARE),
        signup_t[idx],
        anon_id=anon[idx],
        referrer=shares.sharer[o[idx]],
        share_id=shares.share_id[o[idx]],
    )
