"""Integer rounding for minor units: the hot loops work in integer cents, and round here exactly once.

Half-up means half away from zero, like `decimal.ROUND_HALF_UP` (which `Money.rounded` uses), so that a
credit rounds to the mirror image of the charge it reverses.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["round_fraction", "round_half_up"]


def round_half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` to the nearest integer, halves away from zero; `denominator` must be > 0."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def round_fraction(value: Fraction) -> int:
    return round_half_up(value.numerator, value.denominator)
