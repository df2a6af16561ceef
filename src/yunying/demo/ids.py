"""Random ids as fixed-width byte strings, made in bulk from a seeded generator.

Millions of ids are needed per run; formatting them one by one in Python would dominate
the generation time, so the hex digits are produced with array indexing instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex_digits(raw: np.ndarray) -> np.ndarray:
    """(n, k) bytes → (n, 2k) ASCII hex digits."""
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 0x0F]
    return out


def _as_bytes(chars: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(chars).view(f"S{chars.shape[1]}").ravel()


def hex_ids(rng: np.random.Generator, n: int, prefix: str, nbytes: int = 6) -> np.ndarray:
    """``n`` ids like ``u_3fa94c0e12ab``; collisions are negligible at 48 random bits."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars = np.concatenate([np.broadcast_to(head, (n, head.size)), _hex_digits(raw)], axis=1)
    return _as_bytes(chars)


def uuid4s(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUID strings (as ``S36``)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = _hex_digits(raw)
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    parts = []
    for lo, hi in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)):
        parts += [digits[:, lo:hi], dash]
    return _as_bytes(np.concatenate(parts[:-1], axis=1))


def numbered(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """``prefix`` + decimal number, e.g. ``c1042`` (byte strings)."""
    return np.char.add(prefix.encode(), numbers.astype("S20"))


def to_arrow(values: np.ndarray) -> pa.Array:
    """Byte-string ids as an Arrow string array."""
    return pa.array(values, type=pa.binary()).cast(pa.string())
