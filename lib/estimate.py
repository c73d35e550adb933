"""A statistic with its confidence interval, and the level and resolution every interval in `lib` uses."""
from __future__ import annotations

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
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"
