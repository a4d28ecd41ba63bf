"""Interval sets: containment and overlap by binary search agree with the set algebra."""

from __future__ import annotations

import random

from netaddr import IPNetwork, IPSet

from auditor.addrset import AddressSet
from auditor.intervals import covers, merge, overlap


def test_covers_and_overlap_on_edges() -> None:
    outer = merge([(10, 20), (30, 40)])
    assert covers(outer, merge([(10, 20)])) and covers(outer, merge([(12, 15), (30, 30)]))
    assert not covers(outer, merge([(19, 21)])) and not covers(outer, merge([(5, 10)]))
    assert covers(outer, ()) and not covers((), merge([(1, 1)]))
    assert overlap(outer, merge([(20, 25)])) and overlap(outer, merge([(0, 10)])) and overlap(outer, merge([(0, 99)]))
    assert not overlap(outer, merge([(21, 29)])) and not overlap(outer, merge([(41, 50), (0, 9)]))
    assert not overlap((), outer)


def test_address_sets_agree_with_netaddr() -> None:
    rng = random.Random(7)
    for _ in range(300):
        a = [IPNetwork(f"10.{rng.randrange(4)}.{rng.randrange(4)}.0/{rng.choice((16, 22, 24, 26))}") for _ in range(3)]
        b = [IPNetwork(f"10.{rng.randrange(4)}.{rng.randrange(4)}.0/{rng.choice((16, 22, 24, 26))}") for _ in range(3)]
        sa, sb = AddressSet.of(4, a), AddressSet.of(4, b)
        assert sa.issubset(sb) == IPSet(a).issubset(IPSet(b))
        assert sa.isdisjoint(sb) == (not (IPSet(a) & IPSet(b)))
    v6 = AddressSet.of(6, [IPNetwork("2001:db8::/32")])
    assert AddressSet(6).issubset(v6) and v6.isdisjoint(AddressSet.of(4, [IPNetwork("10.0.0.0/8")]))
