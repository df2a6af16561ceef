"""BG/NBD: the paper's CDNOW estimates through Yunying's own import, the likelihood against a
direct evaluation, and the invariants of P(alive) and expected purchases."""

from __future__ import annotations

import csv
import importlib.resources
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import beta, gamma

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.events.importer import ColumnMapping, import_file
from yunying.people import bgnbd
from yunying.people.bgnbd import BgNbdParams
from yunying.people.bgnbd_service import EXPECTED_30D, P_ALIVE, fit_and_publish, rfm_summary
from yunying.people.churn_config import ModelSettings
from yunying.store import derived
from yunying.store.base import EventStore

PAPER = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def cdnow_sample() -> Path:
    path = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_sample.txt"
    return Path(str(path))


def cdnow_csv(tmp_path: Path) -> Path:
    """CDNOW_sample.txt (id, id2, YYYYMMDD, CDs, dollars) as a Yunying import CSV."""
    out = tmp_path / "cdnow.csv"
    with cdnow_sample().open() as src, out.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["event", "distinct_id", "timestamp", "revenue", "cds", "line"])
        for n, line in enumerate(src, 1):
            parts = line.split()
            if not parts:
                continue
            cid, _, day, cds, dollars = parts
            ts = f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00Z"
            # ``line`` keeps two identical purchases on one day apart (the import would
            # otherwise treat the second as a re-import of the first)
            writer.writerow(["purchase", f"c{int(cid)}", ts, dollars, cds, n])
    return out


def sig2(v: float) -> float:
    return float(f"{v:.2g}")


def test_cdnow_matches_the_paper(store: EventStore, tmp_path: Path) -> None:
    summary = import_file(
        store,
        project_id=1,
        path=cdnow_csv(tmp_path),
        mapping=ColumnMapping(rename={"revenue": "$revenue"}),
    )
    assert summary.rejected == 0 and summary.imported == 6919
    ctx = ProjectContext(project_id=1, timezone="UTC")
    rfm = rfm_summary(store, ctx, purchase_event="purchase", as_of=date(1997, 9, 30))
    assert len(rfm.person_ids) == 2357  # the paper's sample size
    result = bgnbd.fit(rfm.x, rfm.t_x, rfm.T)
    got = result.params
    for name in ("r", "alpha", "a", "b"):
        assert sig2(getattr(got, name)) == sig2(getattr(PAPER, name)), name
    assert result.log_likelihood == pytest.approx(-9582.4, abs=0.5)  # the paper's LL

    report = fit_and_publish(store, ctx, ModelSettings(time_unit="week"), as_of=date(1997, 9, 30))
    assert report.customers == 2357 and report.published
    for name in (P_ALIVE, EXPECTED_30D):
        run = derived.latest_run(store, 1, name)
        assert run is not None and run.row_count == 2357

    lifetimes = pytest.importorskip("lifetimes")
    ref = lifetimes.BetaGeoFitter()
    ref.params_ = {"r": got.r, "alpha": got.alpha, "a": got.a, "b": got.b}
    ref_alive = ref.conditional_probability_alive(rfm.x, rfm.t_x, rfm.T)
    np.testing.assert_allclose(bgnbd.p_alive(got, rfm.x, rfm.t_x, rfm.T), ref_alive, atol=1e-9)
    ref_exp = ref.conditional_expected_number_of_purchases_up_to_time(10, rfm.x, rfm.t_x, rfm.T)
    np.testing.assert_allclose(
        bgnbd.expected_purchases(got, 10, rfm.x, rfm.t_x, rfm.T), ref_exp, rtol=1e-7
    )


def direct_likelihood(p: BgNbdParams, x: int, t_x: float, T: float) -> float:
    """Paper eq. 6 evaluated term by term with gamma/beta functions (small x only)."""
    common = gamma(p.r + x) * p.alpha**p.r / gamma(p.r)
    a2 = beta(p.a, p.b + x) / beta(p.a, p.b) / (p.alpha + T) ** (p.r + x)
    a3 = 0.0
    if x > 0:
        a3 = beta(p.a + 1, p.b + x - 1) / beta(p.a, p.b) / (p.alpha + t_x) ** (p.r + x)
    return math.log(common * (a2 + a3))


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 20.0, 25.0)]
)
def test_log_likelihood_matches_direct_evaluation(x: int, t_x: float, T: float) -> None:
    got = bgnbd.log_likelihood(PAPER, [x], [t_x], [T])
    assert got == pytest.approx(direct_likelihood(PAPER, x, t_x, T), rel=1e-10)


def test_log_likelihood_is_finite_for_large_x() -> None:
    ll = bgnbd.log_likelihood_terms(PAPER, [5000, 20000], [300.0, 400.0], [310.0, 400.0])
    assert np.all(np.isfinite(ll))
    exp = bgnbd.expected_purchases(PAPER, 10, [5000, 20000], [300.0, 400.0], [310.0, 400.0])
    assert np.all(np.isfinite(exp)) and np.all(exp > 0)


def test_bad_summaries_are_rejected() -> None:
    with pytest.raises(bgnbd.BgNbdError, match="t_x"):
        bgnbd.fit([1], [5.0], [3.0])
    with pytest.raises(bgnbd.BgNbdError, match="no customers"):
        bgnbd.fit([], [], [])
    with pytest.raises(bgnbd.BgNbdError, match="non-negative integer"):
        bgnbd.fit([1.5], [1.0], [3.0])


params_st = st.builds(
    BgNbdParams,
    r=st.floats(0.05, 5),
    alpha=st.floats(0.1, 50),
    a=st.floats(0.05, 5).filter(lambda a: abs(a - 1) > 1e-3),
    b=st.floats(0.05, 10),
)


@settings(max_examples=200, deadline=None)
@given(params_st, st.integers(0, 200), st.floats(0, 1), st.floats(0.1, 200))
def test_p_alive_is_a_probability_and_falls_with_the_gap(
    p: BgNbdParams, x: int, frac: float, T: float
) -> None:
    t_x = frac * T if x > 0 else 0.0
    alive = float(bgnbd.p_alive(p, x, t_x, T))
    assert 0.0 <= alive <= 1.0
    if x == 0:
        assert alive == 1.0
    else:
        later = float(bgnbd.p_alive(p, x, t_x, T + 10.0))  # same purchases, longer silence
        assert later <= alive + 1e-12


@settings(max_examples=200, deadline=None)
@given(params_st, st.integers(0, 200), st.floats(0, 1), st.floats(0.1, 200), st.floats(0.01, 50))
def test_expected_purchases_non_negative_and_increasing(
    p: BgNbdParams, x: int, frac: float, T: float, t: float
) -> None:
    t_x = frac * T if x > 0 else 0.0
    e1 = float(bgnbd.expected_purchases(p, t, x, t_x, T))
    e2 = float(bgnbd.expected_purchases(p, t * 2, x, t_x, T))
    assert np.isfinite(e1) and e1 >= 0.0
    assert e2 >= e1 - 1e-9 * max(1.0, e1)


def test_summary_collapses_days_and_follows_merges(store: EventStore) -> None:
    ctx = ProjectContext(project_id=1, timezone="Asia/Shanghai")
    events = [
        ev("anon", "purchase", "2024-01-01 10:00"),
        ev("u1", "purchase", "2024-01-01 23:30"),  # same local day as the first: one occasion
        ev("u1", "purchase", "2024-01-08 00:10"),
        ev("u1", "purchase", "2024-01-15 09:00"),
        ev("u1", "view", "2024-01-16 09:00"),
        ev("u2", "purchase", "2024-01-10 12:00"),
        ev("u2", "purchase", "2024-01-30 12:00"),  # after the as-of day: ignored
    ]
    load(store, events, merges={"anon": "u1"})
    rfm = rfm_summary(
        store, ctx, purchase_event="purchase", as_of=date(2024, 1, 15), time_unit="day"
    )
    got = dict(zip(rfm.person_ids, zip(rfm.x, rfm.t_x, rfm.T, strict=True), strict=True))
    assert got == {pid("u1"): (2.0, 14.0, 14.0), pid("u2"): (0.0, 0.0, 5.0)}
    weeks = rfm_summary(store, ctx, purchase_event="purchase", as_of=date(2024, 1, 15))
    in_weeks = dict(zip(weeks.person_ids, weeks.T.tolist(), strict=True))
    assert in_weeks == {pid("u1"): 2.0, pid("u2"): pytest.approx(5 / 7)}


def test_fit_without_purchases_is_an_error(store: EventStore) -> None:
    ctx = ProjectContext(project_id=1)
    with pytest.raises(bgnbd.BgNbdError, match="no purchases"):
        fit_and_publish(store, ctx, ModelSettings(), as_of=date(2024, 1, 1))


def test_too_few_buyers_is_an_error(store: EventStore) -> None:
    events = [ev(f"u{i}", "purchase", f"2024-01-{1 + i % 5:02d} 10:00") for i in range(8)]
    load(store, events)
    ctx = ProjectContext(project_id=1)
    with pytest.raises(bgnbd.BgNbdError, match="too few buyers"):
        fit_and_publish(store, ctx, ModelSettings(), as_of=date(2024, 2, 1))


def test_expected_purchases_is_continuous_at_the_pole() -> None:
    """x = 0 with a + b = 1 puts eq. 10's hypergeometric on its pole; the limit is used."""
    at = BgNbdParams(r=1.0, alpha=1.0, a=0.5, b=0.5)
    near = BgNbdParams(r=1.0, alpha=1.0, a=0.5, b=0.5 + 1e-6)
    for T in (1.0, 20.0, 106.78):
        e_at = float(bgnbd.expected_purchases(at, 3.0, 0, 0.0, T))
        e_near = float(bgnbd.expected_purchases(near, 3.0, 0, 0.0, T))
        assert np.isfinite(e_at) and e_at == pytest.approx(e_near, rel=1e-4)


def test_degenerate_data_stops_at_the_search_box() -> None:
    """Perfectly regular buyers leave no spread in the drop-out rate: a and b run off to
    infinity; the fit stops at the box, says so, and its predictions stay finite."""
    x = np.array([10] * 30 + [5] * 30)
    T = np.full(60, 20.0)
    t_x = np.where(x == 10, 19.5, 19.0)
    result = bgnbd.fit(x, t_x, T)
    assert set(result.at_bound) & {"a", "b"}
    exp = bgnbd.expected_purchases(result.params, 4.0, x, t_x, T)
    assert np.all(np.isfinite(exp)) and np.all(exp >= 0)
