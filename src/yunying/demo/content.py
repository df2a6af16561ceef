"""The demo's content pool: a few hits and a long tail per category.

Views follow a Zipf-like popularity inside each category and lean on each person's two
favourite categories, so content metrics (top content, category mix) have a shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yunying.demo import catalog as cat
from yunying.demo.ids import numbered


@dataclass(frozen=True)
class Content:
    per_category: int
    cdf: np.ndarray  # popularity CDF over ranks within a category
    ids: np.ndarray  # S: content id of code (category * per_category + rank)

    @classmethod
    def pool(cls, persons: int) -> Content:
        per = max(50, persons // 40)
        weights = 1.0 / np.arange(1, per + 1) ** 0.9
        cdf = np.cumsum(weights) / weights.sum()
        return cls(per, cdf, numbered("c", np.arange(per * len(cat.CATEGORIES)) + 10_000))

    def sample(self, rng: np.random.Generator, fav: np.ndarray) -> np.ndarray:
        """A content code per row of ``fav`` ((n, 2) favourite categories)."""
        n = len(fav)
        u = rng.random(n)
        anywhere = rng.choice(len(cat.CATEGORIES), size=n, p=cat.normalised(cat.CATEGORY_WEIGHTS))
        category = np.where(u < 0.6, fav[:, 0], np.where(u < 0.85, fav[:, 1], anywhere))
        rank = np.minimum(np.searchsorted(self.cdf, rng.random(n)), self.per_category - 1)
        return category.astype(np.int64) * self.per_category + rank

    def category(self, codes: np.ndarray) -> np.ndarray:
        return codes // self.per_category
