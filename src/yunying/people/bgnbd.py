"""BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): pure math.

A customer buys as a Poisson process with rate λ ~ Gamma(r, α) while alive and, after each
purchase, drops out with probability p ~ Beta(a, b). From each customer's RFM summary
(x repeat purchases, t_x time of the last purchase since the first, T age since the first
purchase) the four parameters are fitted by maximum likelihood, and per customer we get
P(alive) and the expected number of purchases in the next t periods.

Everything here works on NumPy arrays and has no I/O, so it is tested against the paper's
CDNOW figures and hand-evaluated likelihoods without a store.

Numerical care:
- the log-likelihood is written with ``gammaln``/``betaln`` and ``logaddexp``, so large x
  (hundreds of purchases) neither overflows nor cancels;
- parameters are optimised as logs (all four must be > 0) and time is rescaled so α starts
  near 1, which keeps the optimiser's steps comparable across data sets;
- the conditional expectation (paper eq. 10) uses Euler's transformation of the Gaussian
  hypergeometric function, ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) =
  (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose first two parameters stay small while
  the third grows with x, so the series converges fast and never overflows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.special import betaln, expit, gammaln, hyp2f1

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float  # total over customers (weighted), at the optimum
    customers: int
    converged: bool
    iterations: int
    at_bound: tuple[str, ...] = ()  # parameters stopped by the search box (see UPPER)


# Search box for log(r), log(α·scale), log(a), log(b). a and b run to infinity when the
# data show no spread in the drop-out probability; 1e3 is already a near-point mass and
# keeps the hypergeometric series of eq. 10 tractable. A fit at a bound is reported.
LOWER = 1e-4
UPPER = {"r": 1e4, "alpha": 1e6, "a": 1e3, "b": 1e3}


class BgNbdError(ValueError):
    """The data cannot be fitted (no customers, invalid values)."""


def _arrays(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[Array, Array, Array]:
    xs = np.asarray(x, dtype=np.float64)
    txs = np.asarray(t_x, dtype=np.float64)
    Ts = np.asarray(T, dtype=np.float64)
    xs, txs, Ts = np.broadcast_arrays(xs, txs, Ts)
    return xs, txs, Ts


def validate_summary(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> None:
    """Raise BgNbdError unless 0 <= t_x <= T, x >= 0 integral, t_x = 0 when x = 0."""
    xs, txs, Ts = _arrays(x, t_x, T)
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(txs)) and np.all(np.isfinite(Ts))):
        raise BgNbdError("x, t_x and T must be finite")
    if np.any(xs < 0) or np.any(xs != np.round(xs)):
        raise BgNbdError("x (repeat purchases) must be a non-negative integer")
    if np.any(txs < 0) or np.any(txs > Ts + 1e-9):
        raise BgNbdError("t_x must lie in [0, T]")
    if np.any((xs == 0) & (txs > 0)):
        raise BgNbdError("t_x must be 0 when x = 0")


def log_likelihood_terms(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Log-likelihood of each customer (paper eq. 6, in logs)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xs, txs, Ts = _arrays(x, t_x, T)
    ln_a1 = gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
    ln_a2 = betaln(a, b + xs) - betaln(a, b) - (r + xs) * np.log(alpha + Ts)
    repeat = xs > 0
    # B(a+1, b+x-1) is only defined (and only needed) for x > 0
    safe_x = np.where(repeat, xs, 1.0)
    ln_a3 = betaln(a + 1, b + safe_x - 1) - betaln(a, b) - (r + safe_x) * np.log(alpha + txs)
    tail = np.where(repeat, np.logaddexp(ln_a2, ln_a3), ln_a2)
    return ln_a1 + tail


def log_likelihood(
    params: BgNbdParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    terms = log_likelihood_terms(params, x, t_x, T)
    if weights is None:
        return float(np.sum(terms))
    return float(np.sum(np.asarray(weights, dtype=np.float64) * terms))


def _compress(xs: Array, txs: Array, Ts: Array) -> tuple[Array, Array, Array, Array]:
    """Identical (x, t_x, T) rows as one row with a weight: fitting cost per distinct row."""
    stacked = np.stack([xs, txs, Ts], axis=1)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], counts.astype(np.float64)


def fit(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    initial: BgNbdParams | None = None,
) -> BgNbdFit:
    """Maximum-likelihood estimates of (r, α, a, b)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    xs, txs, Ts = xs.ravel(), txs.ravel(), Ts.ravel()
    if xs.size == 0:
        raise BgNbdError("no customers to fit")
    validate_summary(xs, txs, Ts)
    if float(np.max(Ts)) <= 0:
        raise BgNbdError("every customer's age T is 0: nothing to learn from")
    ux, utx, uT, w = _compress(xs, txs, Ts)
    scale = 10.0 / float(np.max(uT))  # α is in time units; rescaled time keeps it near 1
    stx, sT = utx * scale, uT * scale
    n = float(np.sum(w))

    bounds = [(np.log(LOWER), np.log(UPPER[k])) for k in ("r", "alpha", "a", "b")]

    def objective(theta: Array) -> float:
        r, alpha, a, b = np.exp(theta)
        with np.errstate(all="ignore"):
            ll = log_likelihood(BgNbdParams(r, alpha, a, b), ux, stx, sT, w)
        return -ll / n if np.isfinite(ll) else 1e12

    start = (
        np.log([initial.r, initial.alpha * scale, initial.a, initial.b])
        if initial is not None
        else np.zeros(4)
    )
    start = np.clip(start, [lo for lo, _ in bounds], [hi for _, hi in bounds])
    best = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    polished = optimize.minimize(
        objective,
        best.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 5000},
    )
    if polished.fun <= best.fun:
        best_x, iterations = polished.x, int(best.nit) + int(polished.nit)
        converged = bool(polished.success)
    else:
        best_x, iterations, converged = best.x, int(best.nit), bool(best.success)
    r, alpha, a, b = np.exp(best_x)
    params = BgNbdParams(float(r), float(alpha / scale), float(a), float(b))
    names = ("r", "alpha", "a", "b")
    at_bound = tuple(
        name
        for name, value, (lo, hi) in zip(names, best_x, bounds, strict=True)
        if value <= lo + 1e-6 or value >= hi - 1e-6
    )
    return BgNbdFit(
        params=params,
        log_likelihood=log_likelihood(params, xs, txs, Ts),
        customers=int(xs.size),
        converged=converged,
        iterations=iterations,
        at_bound=at_bound,
    )


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(customer still alive at T | x, t_x, T) (paper eq. 11); 1 when x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xs, txs, Ts = _arrays(x, t_x, T)
    repeat = xs > 0
    safe_x = np.where(repeat, xs, 1.0)
    # log of a/(b+x-1) · ((α+T)/(α+t_x))^(r+x); P(alive) = 1 / (1 + exp(that))
    log_odds = (
        np.log(a)
        - np.log(np.maximum(b + safe_x - 1, 1e-300))
        + (r + safe_x) * (np.log(alpha + Ts) - np.log(alpha + txs))
    )
    return np.where(repeat, expit(-log_odds), 1.0)


def _tail_factor(params: BgNbdParams, xs: Array, Ts: Array, t: Array) -> Array:
    """(1-z)^(r+x) · 2F1(r+x, b+x; a+b+x-1; z) with z = t/(α+T+t), via Euler's identity."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + Ts + t)
    c = a + b + xs - 1
    with np.errstate(all="ignore"):
        out = np.power(1 - z, a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        bad = ~np.isfinite(out)
        if np.any(bad):  # scipy gave up: sum the (convergent) series directly
            out[bad] = _series(a + b - 1 - r, a - 1, c[bad], z[bad], a)
    return out


def _series(p: float, q: float, c: Array, z: Array, a: float, terms: int = 20_000) -> Array:
    """Direct sum of 2F1(p, q; c; z) times (1-z)^(a-1); fallback for scipy failures."""
    total = np.ones_like(z)
    term = np.ones_like(z)
    for n in range(terms):
        term = term * (p + n) * (q + n) / ((c + n) * (n + 1)) * z
        total = total + term
        if np.all(np.abs(term) <= 1e-15 * np.abs(total)):
            break
    return np.power(1 - z, a - 1) * total


def expected_purchases(
    params: BgNbdParams, t: float | ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """E[purchases in (T, T+t] | x, t_x, T] (paper eq. 10).

    Eq. 10 is (a+b+x-1)/(a-1) · [1 - tail] · P(alive). Its hypergeometric function has a
    pole where c = a+b+x-1 = 0 (x = 0 and a+b = 1), cancelled by the factor c in front;
    there the limit c·2F1(p, q; c; z) → p·q·z·2F1(p+1, q+1; 2; z) is used.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xs, txs, Ts = _arrays(x, t_x, T)
    ts = np.array(np.broadcast_to(np.asarray(t, dtype=np.float64), xs.shape))
    if np.any(ts < 0):
        raise BgNbdError("t must be >= 0")
    if abs(a - 1) < 1e-9:
        raise BgNbdError("a = 1 makes eq. 10 singular; perturb a")
    xs, txs, Ts = (np.array(v, dtype=np.float64) for v in (xs, txs, Ts))
    c = a + b + xs - 1
    pole = np.abs(c) < 1e-6
    head = np.empty_like(xs)
    regular = ~pole
    if np.any(regular):
        tail = _tail_factor(params, xs[regular], Ts[regular], ts[regular])
        head[regular] = c[regular] / (a - 1) * (1 - tail)
    if np.any(pole):
        z = ts[pole] / (alpha + Ts[pole] + ts[pole])
        p, q = a + b - 1 - r, a - 1
        with np.errstate(all="ignore"):
            limit = p * q * z * hyp2f1(p + 1, q + 1, 2.0, z)
        head[pole] = -np.power(1 - z, a - 1) * limit / (a - 1)
    result = head * p_alive(params, xs, txs, Ts)
    return np.maximum(np.where(ts == 0, 0.0, result), 0.0)


def expected_purchases_new(params: BgNbdParams, t: float | ArrayLike) -> Array:
    """E[X(t)] for a new customer (paper eq. 9): the population purchase curve."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    ts = np.asarray(t, dtype=np.float64)
    z = ts / (alpha + ts)
    return (
        (a + b - 1) / (a - 1) * (1 - np.power(alpha / (alpha + ts), r) * hyp2f1(r, b, a + b - 1, z))
    )
