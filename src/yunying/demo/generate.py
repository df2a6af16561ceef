"""Generate the demo product's events into one Parquet file (the canonical import shape).

Generation runs in generations: organic persons first; the shares and invites they send
bring referred persons, who share in turn, until the requested number of persons has
signed up (topped up with organic persons if the chains die out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np

from yunying.demo import catalog as cat
from yunying.demo.acquisition import bounced_visitors, invite_accepted_events, signup_events
from yunying.demo.activity import Shares, simulate
from yunying.demo.calendar import Calendar
from yunying.demo.content import Content
from yunying.demo.frame import EventLog
from yunying.demo.invites import open_shares
from yunying.demo.population import Persons, organic

REFERRAL_SHARE = 0.14  # target share of persons acquired through shares and invites
MAX_GENERATIONS = 40
CHUNK = 25_000  # persons simulated at once (bounds the persons × days matrices)

ACTIVATION_EVENT = "content_view"
SIGNUP_EVENT = "signup"


@dataclass(frozen=True)
class DemoSummary:
    path: Path
    persons: int  # signed-up persons (each also had an anonymous id merged in)
    referred: int  # of which acquired through a share or invite
    visitors: int  # anonymous visitors who never signed up
    events: int
    by_event: dict[str, int]
    date_from: date
    date_to: date
    timezone: str
    seed: int
    generate_seconds: float
    activation_event: str = ACTIVATION_EVENT
    signup_event: str = SIGNUP_EVENT
    inserted: int | None = None  # filled by load_demo
    load_seconds: float | None = None
    by_channel: dict[str, int] = field(default_factory=dict)


def _simulate_batch(
    rng: np.random.Generator,
    batch: Persons,
    offset: int,
    cal: Calendar,
    content: Content,
    log: EventLog,
    post_counter: list[int],
) -> list[Shares]:
    shares = []
    for lo in range(0, len(batch), CHUNK):
        part = Persons(**{k: v[lo : lo + CHUNK] for k, v in vars(batch).items()})
        shares.append(simulate(rng, part, offset + lo, cal, content, log, post_counter))
    return shares


def generate_demo(
    path: Path | str,
    *,
    persons: int = 50_000,
    days: int = 90,
    seed: int = 7,
    end: date | None = None,
    project_timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> DemoSummary:
    """Write the demo events to ``path``; the same arguments always give the same file.

    ``end`` is the last local day (default: today, with events only up to ``now``, which
    defaults to the current time). On the same day a re-run reproduces the earlier events
    with the same ids and adds only those that have happened since.
    """
    if persons < 1:
        raise ValueError("persons must be at least 1")
    started = time.perf_counter()
    path = Path(path)
    rng = np.random.default_rng(seed)
    cal = Calendar.ending(end, days, project_timezone, now=now)
    content = Content.pool(persons)
    log = EventLog(cal)
    batches: list[Persons] = []
    signup_t: list[np.ndarray] = []
    user_id: list[np.ndarray] = []
    total = 0
    post_counter = [100_000]
    pending = organic(rng, persons - round(persons * REFERRAL_SHARE), cal)
    for _ in range(MAX_GENERATIONS):
        if len(pending) == 0:
            if persons - total <= 0:
                break
            pending = organic(rng, persons - total, cal)
        offset = total
        batches.append(pending)
        signup_t.append(pending.signup_t)
        user_id.append(pending.user_id)
        total += len(pending)
        known_user_id = np.concatenate(user_id)
        signup_events(rng, pending, log)
        referred = pending.referrer >= 0
        if referred.any():
            sub = Persons(**{k: v[referred] for k, v in vars(pending).items()})
            invite_accepted_events(rng, sub, known_user_id[sub.referrer], log)
        parts = _simulate_batch(rng, pending, offset, cal, content, log, post_counter)
        shares = Shares.concat(parts)
        pending = open_shares(
            rng, shares, np.concatenate(signup_t), known_user_id, cal, log, persons - total
        )
    everyone = Persons.concat(batches)
    n_channels = len(cat.ALL_CHANNELS)
    # Visitors scale with the whole window's signups (not "so far today"), so the random
    # stream, and with it every id, is the same whenever during the day the demo runs.
    visitors = bounced_visitors(rng, np.bincount(everyone.channel, minlength=n_channels), cal, log)
    counted = everyone.signup_t < cal.cutoff
    by_channel = np.bincount(everyone.channel[counted], minlength=n_channels)
    by_event = dict(sorted(log.counts().items(), key=lambda kv: -kv[1]))
    n = log.write_parquet(path, rng)
    return DemoSummary(
        path=path,
        persons=int(counted.sum()),
        referred=int((counted & (everyone.referrer >= 0)).sum()),
        visitors=visitors,
        events=n,
        by_event=by_event,
        date_from=cal.first_day,
        date_to=cal.last_day,
        timezone=project_timezone,
        seed=seed,
        generate_seconds=time.perf_counter() - started,
        by_channel={c.key: int(by_channel[i]) for i, c in enumerate(cat.ALL_CHANNELS)},
    )
