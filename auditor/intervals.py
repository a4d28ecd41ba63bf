"""Sorted, disjoint, non-adjacent integer intervals: the shared core of port sets and address sets."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

Intervals = Sequence[tuple[int, int]]  # sorted, disjoint, non-adjacent (as merge() returns them)
_AFTER = 1 << 129  # above any address or port


def merge(intervals: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Inclusive ``(lo, hi)`` intervals sorted and merged; empty ones (``lo > hi``) dropped."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if lo > hi:
            continue
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _at_or_before(intervals: Intervals, value: int) -> tuple[int, int] | None:
    """The interval of ``intervals`` that starts at or before ``value``, if any."""
    i = bisect_right(intervals, (value, _AFTER)) - 1
    return intervals[i] if i >= 0 else None


def covers(outer: Intervals, inner: Intervals) -> bool:
    """Every value of ``inner`` is in ``outer`` (both merged): one binary search per inner interval."""
    for lo, hi in inner:
        found = _at_or_before(outer, lo)
        if found is None or found[1] < hi:
            return False
    return True


def overlap(a: Intervals, b: Intervals) -> bool:
    """Some value is in both ``a`` and ``b`` (both merged)."""
    if len(a) > len(b):
        a, b = b, a
    for lo, hi in a:
        found = _at_or_before(b, hi)  # the last interval of b that starts at or before our end
        if found is not None and found[1] >= lo:
            return True
    return False
