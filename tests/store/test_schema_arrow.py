"""Event rows → Arrow: the shortcut for shared timestamps changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from yunying.store.schema import _shared_utc_column, _utc_column

_zones = st.sampled_from([None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3))])
_moments = st.builds(
    lambda d, tz: d.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    _zones,
)


@given(
    pool=st.lists(_moments, min_size=1, max_size=4), picks=st.lists(st.integers(0, 3), max_size=60)
)
def test_shared_timestamps_convert_like_the_general_path(pool, picks):
    values = [pool[i % len(pool)] for i in picks]
    assert _shared_utc_column(values).equals(_utc_column(values))
