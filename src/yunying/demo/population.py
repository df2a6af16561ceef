"""Who the demo's persons are: when and through which channel they arrive, and their habits.

Every trait is an array over a batch of persons, drawn once; the behaviour simulation
only reads them. Channel quality lives in ``catalog.CHANNELS`` and shows up here as
different activation, churn hazard, engagement and paying propensity.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from yunying.demo import catalog as cat
from yunying.demo.calendar import DAY, Calendar
from yunying.demo.ids import hex_ids, uuid4s


@dataclass
class Persons:
    """A batch of signed-up persons (all arrays have one entry per person)."""

    user_id: np.ndarray  # S: the logged-in distinct id
    anon_id: np.ndarray  # S: the device id used before signup
    channel: np.ndarray  # index into catalog.ALL_CHANNELS
    signup_t: np.ndarray  # local seconds
    activated: np.ndarray  # bool
    engagement: np.ndarray  # multiplier on activity
    life1: np.ndarray  # days of the first active spell (churn hazard)
    gap: np.ndarray  # days dormant before resurrecting (inf: never)
    life2: np.ndarray  # days of the resurrected spell
    payer: np.ndarray  # bool
    creator: np.ndarray  # posts per session
    sharer: np.ndarray  # share probability per content view
    inviter: np.ndarray  # invite_sent probability per active day
    checkin: np.ndarray  # check-in probability per active day
    fav: np.ndarray  # (n, 2) favourite category codes
    city: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    device: np.ndarray
    method: np.ndarray
    referrer: np.ndarray  # global index of the inviting person, -1 if none
    share_id: np.ndarray  # S: the share that brought them, b"" if none

    def __len__(self) -> int:
        return len(self.user_id)

    @staticmethod
    def concat(parts: list[Persons]) -> Persons:
        return Persons(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Persons)}
        )


def _choice(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=cat.normalised(weights)).astype(np.int16)


def signup_days(rng: np.random.Generator, channel: np.ndarray, cal: Calendar) -> np.ndarray:
    """A day per organic signup: growth, weekend peaks, and channel-specific campaigns."""
    d = np.arange(cal.days)
    weekday = cat.WEEKDAY[cal.weekday()]
    growth = 0.6 + 0.8 * d / max(cal.days - 1, 1)
    out = np.empty(len(channel), dtype=np.int64)
    for c, ch in enumerate(cat.CHANNELS):
        mask = channel == c
        w = growth * weekday
        if ch.key == "douyin":  # paid bursts: two-week campaigns every ~5 weeks
            w = w * np.where((d % 35) < 14, 2.2, 0.6)
        elif ch.key == "offline":  # street promotion on some weekends only
            w = w * np.where((d // 7) % 3 == 1, 2.0, 0.5) * (1.0 + (weekday > 1.1))
        elif ch.key == "seo":  # search traffic compounds
            w = w * (0.5 + d / max(cal.days - 1, 1))
        out[mask] = rng.choice(cal.days, size=int(mask.sum()), p=w / w.sum())
    return out


def session_second(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after local midnight, following the hourly usage curve."""
    hour = rng.choice(24, size=n, p=cat.normalised(cat.HOURLY))
    return hour * 3600 + rng.integers(0, 3600, size=n)


def make_persons(
    rng: np.random.Generator,
    channel: np.ndarray,
    signup_t: np.ndarray,
    *,
    anon_id: np.ndarray | None = None,
    referrer: np.ndarray | None = None,
    share_id: np.ndarray | None = None,
) -> Persons:
    """Draw every trait for persons of the given channels and signup times."""
    n = len(channel)
    ch = cat.ALL_CHANNELS
    act = np.array([c.activation for c in ch])[channel]
    life = np.array([c.lifetime_days for c in ch])[channel]
    eng_c = np.array([c.engagement for c in ch])[channel]
    pay = np.array([c.paying for c in ch])[channel]
    engagement = eng_c * rng.lognormal(0.0, 0.55, size=n)
    # Per-person churn hazard: engaged persons stay longer.
    life1 = rng.exponential(life * np.clip(engagement, 0.3, 2.5))
    resurrects = rng.random(n) < 0.22
    gap = np.where(resurrects, rng.uniform(7, 35, size=n), np.inf)
    life2 = rng.exponential(life * 0.35)
    activated = rng.random(n) < act
    heavy = rng.random(n) < 0.12
    return Persons(
        user_id=hex_ids(rng, n, "u_"),
        anon_id=uuid4s(rng, n) if anon_id is None else anon_id,
        channel=np.asarray(channel, dtype=np.int16),
        signup_t=np.asarray(signup_t, dtype=np.int64),
        activated=activated,
        engagement=engagement,
        life1=life1,
        gap=gap,
        life2=life2,
        payer=activated & (rng.random(n) < 2.5 * pay * np.clip(engagement, 0.4, 3.0)),
        creator=np.where(heavy, rng.uniform(0.15, 0.6, n), rng.uniform(0.0, 0.04, n)),
        sharer=np.where(rng.random(n) < 0.25, rng.uniform(0.02, 0.08, n), 0.004),
        inviter=np.where(rng.random(n) < 0.25, rng.uniform(0.03, 0.12, n), 0.002),
        checkin=np.where(rng.random(n) < 0.35, rng.uniform(0.6, 0.95, n), 0.06),
        fav=np.stack(
            [_choice(rng, n, cat.CATEGORY_WEIGHTS), _choice(rng, n, cat.CATEGORY_WEIGHTS)], axis=1
        ),
        city=_choice(rng, n, cat.CITY_WEIGHTS),
        gender=_choice(rng, n, cat.GENDER_WEIGHTS),
        age=_choice(rng, n, cat.AGE_WEIGHTS),
        device=(rng.random(n) < 0.38).astype(np.int16) ^ 1,  # 0 iOS (38%), 1 Android
        method=_choice(rng, n, np.array([55.0, 38.0, 7.0])),
        referrer=np.full(n, -1, dtype=np.int64) if referrer is None else referrer,
        share_id=np.full(n, b"", dtype="S1") if share_id is None else share_id,
    )


def organic(rng: np.random.Generator, n: int, cal: Calendar) -> Persons:
    """``n`` persons acquired through the paid and organic channels."""
    channel = _choice(rng, n, np.array([c.share for c in cat.CHANNELS]))
    t = signup_days(rng, channel, cal) * DAY + session_second(rng, n)
    return make_persons(rng, channel, t)
