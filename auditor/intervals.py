"""Sorted, disjoint, non-adjacent integer intervals: the shared core of port sets and address sets."""

from __future__ import annotations

from collections.abc import Iterable


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
