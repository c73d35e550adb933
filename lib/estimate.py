"""A statistic with its confidence interval, and the level and resolution every interval in `lib` uses."""
from __future__ import annotations

import math

from dataclasses import dataclass

LEVEL = 0.95  # confidence level of every interval
S_RESOLUTION = 1e-12  # smallest S the float64 distance resolves; a measured noise floor below it is raised to it


@dataclass(frozen=True)
class Estimate:
    """A statistic with its confidence interval [lo, hi]."""

    value: float
    lo: float
    hi: float

    def below(self, x: float) -> bool:
        return self.hi < x

    def above(self, x: float) -> bool:
        return self.lo > x

    def fmt(self, digits: int = 2) -> str:
        """``value [lo, hi]`` with ``digits`` decimals; beyond 10^4 in magnitude, ``digits + 1`` significant digits."""
        big = max(abs(self.value), abs(self.lo), abs(self.hi)) >= 1e4 if all(map(math.isfinite, (self.value, self.lo, self.hi))) else False
        f = (lambda x: f"{x:.{digits + 1}g}") if big else (lambda x: f"{x:.{digits}f}")
        return f"{f(self.value)} [{f(self.lo)}, {f(self.hi)}]"
