"""Attribution (渠道归因): which channel brought a person, first touch and last touch.

A *touch* is an event that says where the person came from. Its channel is, in order:
the ``channel`` property (an app's own label, e.g. an Android 渠道包), else ``utm_source``,
else the host of an external ``$referrer`` — known hosts collapse to one canonical name
(``m.baidu.com`` → ``baidu.com``) and carry a type (search or social); a referrer from the
page's own host (``$current_url``) or a configured internal host is no touch. An event
without any of these is *direct*.

- **First touch** (PostHog's ``$initial_*``, GA4's "first user" source): the touch of the
  person's very first event, after identity merge; ``direct`` when that event has none.
  AARRR acquisition uses this same definition (``analytics.aarrr`` calls ``channel_sql``).
- **Last touch** (GA4's "paid and organic last click"): the latest non-direct touch at or
  before the person's conversion — their first ``conversion_event`` — or, without a
  conversion, at or before the cut-off the caller gives (a report's last day); ``direct``
  only when there is no touch at all up to then.

Ties in time are broken by event uuid (first touch: the smaller, last touch: the larger).

All SQL is written once against the ``Dialect``; every configured name and host reaches
SQL only as a quoted literal or a regex built from validated host names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from yunying.analytics.context import ProjectContext
from yunying.store.dialect import Dialect

DIRECT = "direct"
TouchType = Literal["channel", "utm", "search", "social", "referral", "direct"]
TOUCH_TYPES: tuple[str, ...] = ("channel", "utm", "search", "social", "referral", "direct")
SourceType = Literal["search", "social"]
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


def clean_host(raw: str) -> str:
    """A host as the rules store it: lower case, no ``www.``; ValueError when not a host."""
    host = raw.strip().lower()
    host = host.removeprefix("www.")
    if not _HOST.fullmatch(host) or len(host) > 253:
        raise ValueError(f"not a host name: {raw!r}")
    return host


@dataclass(frozen=True)
class Source:
    """A known referrer: every host (and its subdomains) becomes channel ``name``."""

    name: str
    type: SourceType
    hosts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200:
            raise ValueError("a source needs a name of 1 to 200 characters")
        if self.type not in ("search", "social"):
            raise ValueError(f"source {self.name!r}: type must be search or social")
        if not self.hosts:
            raise ValueError(f"source {self.name!r}: needs at least one host")
        object.__setattr__(self, "hosts", tuple(clean_host(h) for h in self.hosts))

    def pattern(self) -> str:
        """RE2 pattern matching any of the hosts or their subdomains (hosts are validated)."""
        alternatives = "|".join(re.escape(h) for h in self.hosts)
        return rf"(^|\.)({alternatives})$"


DEFAULT_SOURCES: tuple[Source, ...] = (
    Source("baidu.com", "search", ("baidu.com",)),
    Source("google.com", "search", ("google.com", "google.com.hk", "google.cn")),
    Source("bing.com", "search", ("bing.com",)),
    Source("sogou.com", "search", ("sogou.com",)),
    Source("so.com", "search", ("so.com", "360.cn")),
    Source("sm.cn", "search", ("sm.cn",)),
    Source("weixin.qq.com", "social", ("weixin.qq.com", "wx.qq.com")),
    Source("weibo.com", "social", ("weibo.com", "weibo.cn", "t.cn")),
    Source("douyin.com", "social", ("douyin.com", "iesdouyin.com")),
    Source("xiaohongshu.com", "social", ("xiaohongshu.com", "xhslink.com")),
    Source("zhihu.com", "social", ("zhihu.com",)),
    Source("bilibili.com", "social", ("bilibili.com", "b23.tv")),
    Source("kuaishou.com", "social", ("kuaishou.com",)),
)


@dataclass(frozen=True)
class AttributionRules:
    """The referrer mapping. ``internal_hosts`` (and subdomains) are the product's own
    sites: referrers from them are navigation, not touches."""

    sources: tuple[Source, ...] = DEFAULT_SOURCES
    internal_hosts: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "internal_hosts", tuple(clean_host(h) for h in self.internal_hosts)
        )

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> AttributionRules:
        """Rules from JSON-like data::

            {"sources": [{"name": "百度", "type": "search", "hosts": ["baidu.com"]}],
             "internal_hosts": ["example.com"], "replace_defaults": false}

        Given sources come before the defaults (first match wins) unless
        ``replace_defaults`` is true.
        """
        raw = data.get("sources", [])
        if not isinstance(raw, list):
            raise ValueError("sources: must be a list")
        sources = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ValueError(f"sources[{i}]: must be an object")
            try:
                sources.append(
                    Source(
                        str(item.get("name", "")), item.get("type"), tuple(item.get("hosts", ()))
                    )
                )
            except (ValueError, TypeError) as exc:
                raise ValueError(f"sources[{i}]: {exc}") from None
        if not data.get("replace_defaults"):
            sources += list(DEFAULT_SOURCES)
        internal = data.get("internal_hosts", [])
        if not isinstance(internal, list):
            raise ValueError("internal_hosts: must be a list")
        return cls(sources=tuple(sources), internal_hosts=tuple(str(h) for h in internal))


DEFAULT_RULES = AttributionRules()
RULES_KEY = "attribution_rules"  # ProjectContext.extra key holding the rules as JSON


def rules_for(ctx: ProjectContext) -> AttributionRules:
    """The project's rules: ``ctx.extra['attribution_rules']`` (JSON) or the defaults."""
    text = ctx.extra.get(RULES_KEY)
    if not text:
        return DEFAULT_RULES
    return AttributionRules.from_mapping(orjson.loads(text))


# ---- SQL over one event row -------------------------------------------------------------


def _external_host(d: Dialect, rules: AttributionRules, alias: str) -> str:
    """Host of the row's referrer when it is external; NULL for none, own or internal."""
    ref = d.url_host(f"{alias}.referrer")
    own = d.url_host(f"{alias}.current_url")
    internal = "FALSE"
    if rules.internal_hosts:
        pat = "|".join(re.escape(h) for h in rules.internal_hosts)
        internal = d.regexp_matches(ref, d.str_lit(rf"(^|\.)({pat})$"))
    return (
        f"CASE WHEN {ref} IS NOT NULL AND {ref} != coalesce({own}, '') "
        f"AND NOT coalesce({internal}, FALSE) THEN {ref} END"
    )


def touch_channel_sql(d: Dialect, rules: AttributionRules = DEFAULT_RULES, alias: str = "e") -> str:
    """The channel of event row ``alias``; NULL when the event is direct (no touch)."""
    host = _external_host(d, rules, alias)
    named = "".join(
        f"WHEN {d.regexp_matches(host, d.str_lit(s.pattern()))} THEN {d.str_lit(s.name)} "
        for s in rules.sources
    )
    by_host = f"CASE {named}ELSE {host} END" if named else host
    return f"coalesce(nullif({alias}.channel, ''), nullif({alias}.utm_source, ''), {by_host})"


def channel_sql(d: Dialect, rules: AttributionRules = DEFAULT_RULES, alias: str = "e") -> str:
    """The channel of event row ``alias``, ``direct`` when it carries no touch."""
    return f"coalesce({touch_channel_sql(d, rules, alias)}, {d.str_lit(DIRECT)})"


def touch_type_sql(d: Dialect, rules: AttributionRules = DEFAULT_RULES, alias: str = "e") -> str:
    """Which rule gave the channel: channel, utm, search, social, referral or direct."""
    host = _external_host(d, rules, alias)
    lit = d.str_lit
    typed = "".join(
        f"WHEN {d.regexp_matches(host, lit(s.pattern()))} THEN {lit(s.type)} "
        for s in rules.sources
    )
    return (
        f"CASE WHEN nullif({alias}.channel, '') IS NOT NULL THEN {lit('channel')} "
        f"WHEN nullif({alias}.utm_source, '') IS NOT NULL THEN {lit('utm')} "
        f"WHEN {host} IS NULL THEN {lit(DIRECT)} {typed}ELSE {lit('referral')} END"
    )


# ---- one person's touches (the profile) ---------------------------------------------------


class Touch(BaseModel):
    """One touch: the channel and where it came from."""

    channel: str = Field(description="The channel this touch counts for.")
    type: TouchType = Field(description="Which rule gave the channel.")
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_host: str | None = Field(default=None, description="External referrer host.")
    event: str | None = Field(default=None, description="The event that carried the touch.")
    timestamp: datetime | None = None


class PersonAttribution(BaseModel):
    person_id: str
    first_seen: datetime | None
    first_touch: Touch
    last_touch: Touch
    conversion_event: str | None = Field(description="What counts as converting.")
    converted_at: datetime | None = Field(description="The person's first conversion_event.")
    cutoff: datetime = Field(description="Touches at or before this instant count as last.")


def conversion_event_for(ctx: ProjectContext, requested: str | None = None) -> str | None:
    """The conversion that ends a last-touch journey: the request's, else the project's
    signup event, else its activation event; None means "up to the cut-off"."""
    return requested or ctx.signup_event or ctx.activation_event


def _touch_cols(d: Dialect, rules: AttributionRules, alias: str = "e") -> str:
    return (
        f"{touch_channel_sql(d, rules, alias)} AS tch, {touch_type_sql(d, rules, alias)} AS ttype, "
        f"nullif({alias}.utm_source, '') AS usrc, "
        f"{d.json_str(f'{alias}.properties', 'utm_medium')} AS umed, "
        f"{d.json_str(f'{alias}.properties', 'utm_campaign')} AS ucamp, "
        f"{_external_host(d, rules, alias)} AS rhost, "
        f"{alias}.event AS event, {alias}.timestamp AS ts, {alias}.uuid AS uuid"
    )


def _touch(row: dict[str, Any] | None) -> Touch:
    if row is None or row.get("tch") is None:
        base = {"event": row["event"], "timestamp": _aware(row["ts"])} if row else {}
        return Touch(channel=DIRECT, type="direct", **base)
    return Touch(
        channel=str(row["tch"]),
        type=row["ttype"],
        utm_source=row["usrc"],
        utm_medium=row["umed"],
        utm_campaign=row["ucamp"],
        referrer_host=row["rhost"],
        event=row["event"],
        timestamp=_aware(row["ts"]),
    )


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def person_attribution_from_where(
    store: Any,
    ctx: ProjectContext,
    person_id: str,
    where: str,
    *,
    conversion_event: str | None = None,
    until: date | None = None,
    rules: AttributionRules | None = None,
) -> PersonAttribution:
    """First and last touch of one person whose events match SQL ``where`` over ``events e``
    (the caller selects the person's distinct ids, as the profile page does).

    Without a conversion, touches up to the end of local day ``until`` (default today)
    count for the last touch.
    """
    d = store.dialect
    rules = rules or rules_for(ctx)
    conv = conversion_event_for(ctx, conversion_event)
    converted_at = None
    if conv:
        found = store.query(
            f"SELECT min(e.timestamp) AS ts FROM events e WHERE {where} "
            f"AND e.event = {d.str_lit(conv)}"
        ).to_pylist()
        converted_at = _aware(found[0]["ts"]) if found else None
    day = until or ctx.today()
    cutoff = converted_at or ctx.day_start_utc(day + timedelta(days=1))
    cols = _touch_cols(d, rules)
    first = store.query(
        f"SELECT {cols} FROM events e WHERE {where} ORDER BY e.timestamp, e.uuid LIMIT 1"
    ).to_pylist()
    cut = d.ts_lit(cutoff)
    last = store.query(
        f"SELECT * FROM (SELECT {cols} FROM events e WHERE {where} "
        f"AND e.timestamp <= {cut}) t WHERE tch IS NOT NULL ORDER BY ts DESC, uuid DESC LIMIT 1"
    ).to_pylist()
    return PersonAttribution(
        person_id=person_id,
        first_seen=_aware(first[0]["ts"]) if first else None,
        first_touch=_touch(first[0] if first else None),
        last_touch=_touch(last[0] if last else None),
        conversion_event=conv,
        converted_at=converted_at,
        cutoff=cutoff,
    )
