"""How persons arrive: anonymous landing visits, ``$identify`` merge, ``signup``.

Each person browses under an anonymous device id first and then identifies, so every
signed-up person exercises the identity merge (``$identify`` with ``$anon_distinct_id``).
Visitors who bounce stay anonymous persons with a landing page view only.
"""

from __future__ import annotations

import numpy as np

from yunying.demo import catalog as cat
from yunying.demo.calendar import DAY, Calendar
from yunying.demo.frame import EventLog, categorical
from yunying.demo.ids import uuid4s
from yunying.demo.population import Persons, session_second, signup_days

CHANNEL_KEYS = [c.key for c in cat.ALL_CHANNELS]
UTM = [c.utm_source for c in cat.ALL_CHANNELS]
REFERRERS = [c.referrer for c in cat.ALL_CHANNELS]
WEB = np.array([c.web_landing for c in cat.ALL_CHANNELS])


def landing_url(channel: np.ndarray) -> np.ndarray:
    urls = [
        f"{cat.APP_ORIGIN}/landing?utm_source={c.utm_source}"
        if c.web_landing
        else f"{cat.APP_ORIGIN}/welcome"
        for c in cat.ALL_CHANNELS
    ]
    return categorical(channel, urls)


def signup_events(rng: np.random.Generator, p: Persons, log: EventLog) -> None:
    """Landing visit(s) before signup, then ``$identify`` and ``signup``."""
    n = len(p)
    if n == 0:
        return
    web = WEB[p.channel]
    referred = p.referrer >= 0
    # Web visitors look around first (sometimes days before); app installs sign up quickly.
    lag = np.where(
        web,
        np.where(rng.random(n) < 0.2, rng.uniform(DAY, 3 * DAY, n), rng.uniform(60, 1800, n)),
        rng.uniform(20, 300, n),
    ).astype(np.int64)
    land = ~referred  # referred persons landed through share_opened instead
    log.add(
        "$pageview",
        p.anon_id[land],
        (p.signup_t - lag)[land],
        **{
            "$current_url": landing_url(p.channel[land]),
            "$referrer": categorical(p.channel[land], REFERRERS),
            "utm_source": categorical(p.channel[land], UTM),
            "channel": categorical(p.channel[land], CHANNEL_KEYS),
            "$os": categorical(p.device[land], cat.DEVICES),
        },
    )
    # A second anonymous page for about half of the visitors.
    more = rng.random(n) < 0.5
    log.add(
        "$pageview",
        p.anon_id[more],
        (p.signup_t - rng.integers(5, 60, n))[more],
        **{
            "$current_url": f"{cat.APP_ORIGIN}/signup",
            "channel": categorical(p.channel[more], CHANNEL_KEYS),
            "$os": categorical(p.device[more], cat.DEVICES),
        },
    )
    person_set = {
        "city": categorical(p.city, cat.CITIES),
        "gender": categorical(p.gender, cat.GENDERS),
        "age_band": categorical(p.age, cat.AGE_BANDS),
        "device": categorical(p.device, cat.DEVICES),
        "signup_channel": categorical(p.channel, CHANNEL_KEYS),
    }
    log.add(
        "$identify",
        p.user_id,
        p.signup_t,
        **{
            "$anon_distinct_id": p.anon_id,
            "channel": categorical(p.channel, CHANNEL_KEYS),
            "$os": categorical(p.device, cat.DEVICES),
            "$set": person_set,
        },
    )
    log.add(
        "signup",
        p.user_id,
        p.signup_t + rng.integers(1, 6, n),
        **{
            "channel": categorical(p.channel, CHANNEL_KEYS),
            "utm_source": categorical(p.channel, UTM),
            "$referrer": categorical(p.channel, REFERRERS),
            "method": categorical(p.method, cat.SIGNUP_METHODS),
            "$os": categorical(p.device, cat.DEVICES),
        },
    )


def invite_accepted_events(
    rng: np.random.Generator, p: Persons, referrer_user_id: np.ndarray, log: EventLog
) -> None:
    """The new person's side of a successful invite (``referrer_id`` = inviter's user id)."""
    if len(p) == 0:
        return
    log.add(
        "invite_accepted",
        p.user_id,
        p.signup_t + rng.integers(6, 30, len(p)),
        share_id=p.share_id,
        referrer_id=referrer_user_id,
        channel=categorical(p.channel, CHANNEL_KEYS),
        **{"$os": categorical(p.device, cat.DEVICES)},
    )


def bounced_visitors(
    rng: np.random.Generator, signups_by_channel: np.ndarray, cal: Calendar, log: EventLog
) -> int:
    """Anonymous visitors who never sign up (the top of the acquisition funnel).

    Returns how many of them have visited by the calendar's cutoff.
    """
    ratio = np.array([c.visitors_per_signup for c in cat.CHANNELS])
    n_by = rng.poisson(signups_by_channel[: len(ratio)] * ratio)
    channel = np.repeat(np.arange(len(ratio)), n_by).astype(np.int16)
    n = len(channel)
    if n == 0:
        return 0
    t = signup_days(rng, channel, cal) * DAY + session_second(rng, n)
    ids = uuid4s(rng, n)
    device = (rng.random(n) < 0.4).astype(np.int16) ^ 1
    log.add(
        "$pageview",
        ids,
        t,
        **{
            "$current_url": landing_url(channel),
            "$referrer": categorical(channel, REFERRERS),
            "utm_source": categorical(channel, UTM),
            "channel": categorical(channel, CHANNEL_KEYS),
            "$os": categorical(device, cat.DEVICES),
        },
    )
    again = rng.random(n) < 0.3
    log.add(
        "$pageview",
        ids[again],
        (t + rng.integers(10, 240, n))[again],
        **{
            "$current_url": categorical(
                rng.choice(len(cat.PAGES), n)[again], [cat.APP_ORIGIN + u for u in cat.PAGES]
            ),
            "channel": categorical(channel[again], CHANNEL_KEYS),
            "$os": categorical(device[again], cat.DEVICES),
        },
    )
    return int((t < cal.cutoff).sum())
