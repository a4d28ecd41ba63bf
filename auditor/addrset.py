"""Address sets as sorted integer intervals: the fast set algebra of the evaluator's classes.

``netaddr.IPSet`` keeps sets as CIDR lists and re-merges them on every union, which dominates the
cost of splitting the address space into classes. An :class:`AddressSet` is one IP family's sorted,
disjoint, non-adjacent ``(first, last)`` integer intervals; it converts to CIDRs only for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from netaddr import IPAddress, IPNetwork, IPRange, IPSet

from auditor.intervals import covers, merge, overlap

_MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}


class AddressSet:
    __slots__ = ("intervals", "version")

    def __init__(self, version: int, intervals: Iterable[tuple[int, int]] = ()) -> None:
        self.version = version
        self.intervals: tuple[tuple[int, int], ...] = merge(intervals)

    @classmethod
    def everything(cls, version: int) -> AddressSet:
        return cls(version, [(0, _MAX[version])])

    @classmethod
    def of(cls, version: int, nets: Iterable[IPNetwork | IPSet | AddressSet]) -> AddressSet:
        out: list[tuple[int, int]] = []
        for net in nets:
            if isinstance(net, AddressSet):
                if net.version == version:
                    out.extend(net.intervals)
            elif isinstance(net, IPSet):
                out.extend((int(r.first), int(r.last)) for r in net.iter_ipranges() if r.version == version)
            elif net.version == version:
                out.append((int(net.first), int(net.last)))
        return cls(version, out)

    # --- set algebra (the other operand may also be a netaddr IPSet or IPNetwork) -----------------

    def _coerce(self, other: AddressSet | IPSet | IPNetwork) -> AddressSet:
        if isinstance(other, AddressSet):
            return other if other.version == self.version else AddressSet(self.version)
        return AddressSet.of(self.version, [other])

    def __or__(self, other: AddressSet | IPSet | IPNetwork) -> AddressSet:
        return AddressSet(self.version, self.intervals + self._coerce(other).intervals)

    def __and__(self, other: AddressSet | IPSet | IPNetwork) -> AddressSet:
        out, a, b = [], self.intervals, self._coerce(other).intervals
        i = j = 0
        while i < len(a) and j < len(b):
            lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return AddressSet(self.version, out)

    def __sub__(self, other: AddressSet | IPSet | IPNetwork) -> AddressSet:
        return self & self._coerce(other).complement()

    def complement(self) -> AddressSet:
        out, start = [], 0
        for lo, hi in self.intervals:
            if lo > start:
                out.append((start, lo - 1))
            start = hi + 1
        if start <= _MAX[self.version]:
            out.append((start, _MAX[self.version]))
        return AddressSet(self.version, out)

    def issubset(self, other: AddressSet | IPSet | IPNetwork) -> bool:
        return covers(self._coerce(other).intervals, self.intervals)

    def isdisjoint(self, other: AddressSet | IPSet | IPNetwork) -> bool:
        return not overlap(self.intervals, self._coerce(other).intervals)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, IPAddress) or address.version != self.version:
            return False
        value = int(address)
        return any(lo <= value <= hi for lo, hi in self.intervals)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddressSet) and (self.version, self.intervals) == (other.version, other.intervals)

    def __hash__(self) -> int:
        return hash((self.version, self.intervals))

    @property
    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    # --- display ------------------------------------------------------------------------------

    def first(self) -> IPAddress:
        return IPAddress(self.intervals[0][0], self.version)

    def iter_ipranges(self) -> Iterator[IPRange]:
        for lo, hi in self.intervals:
            yield IPRange(IPAddress(lo, self.version), IPAddress(hi, self.version))

    def iter_cidrs(self) -> list[IPNetwork]:
        out: list[IPNetwork] = []
        for rng in self.iter_ipranges():
            out.extend(rng.cidrs())
        return out

    def first_cidrs(self, count: int) -> list[IPNetwork]:
        """The first ``count`` CIDRs of the set (cheap: stops early)."""
        out: list[IPNetwork] = []
        for rng in self.iter_ipranges():
            out.extend(rng.cidrs())
            if len(out) >= count:
                break
        return out[:count]

    def to_ipset(self) -> IPSet:
        return IPSet(self.iter_ipranges())

    def __repr__(self) -> str:
        return f"AddressSet({', '.join(str(c) for c in self.iter_cidrs()[:4])})"
