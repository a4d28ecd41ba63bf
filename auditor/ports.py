"""Ports and protocols with Calico's syntax and semantics.

A Calico port is an integer, a ``"lo:hi"`` range string, a digit string, or a named port
(resolved through container ports or HostEndpoint ``ports``). :class:`PortSet` is a set of port
numbers kept as sorted, disjoint ranges, so "does this rule cover 30000-32767?" is set algebra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.intervals import merge

MIN_PORT, MAX_PORT = 1, 65535
_K8S_PORT_NAME = re.compile(r"^(?!-)(?!.*--)[a-z0-9-]{1,15}(?<!-)$")
_NAMED_PORT_SYNTAX = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_RANGE_RE = re.compile(r"^([0-9]+):([0-9]+)$")

PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}
PORT_PROTOCOLS = frozenset({6, 17, 132})


class PortError(ValueError):
    """A port value Calico rejects; ``message`` says why."""


@dataclass(frozen=True, slots=True)
class PortRange:
    lo: int
    hi: int

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}:{self.hi}"


def to_int(digits: str) -> int:
    """``int()`` of ASCII digits of any length: Python refuses past 4,300 digits (a DoS guard), and
    a number that long is out of every range here anyway, so it is clipped."""
    return int(digits[:4000])


def parse_port(value: object) -> PortRange | str:
    """One Calico port: a :class:`PortRange` or a named port. Raises PortError when invalid."""
    if isinstance(value, bool) or value is None:
        raise PortError(f"{value!r} is not a port")
    if isinstance(value, int):
        if not MIN_PORT <= value <= MAX_PORT:
            raise PortError(f"port {value} is outside 1-65535")
        return PortRange(value, value)
    if isinstance(value, float):
        raise PortError(f"port {value} is not a whole number")
    if not isinstance(value, str):
        raise PortError(f'a port must be a number, a "min:max" range or a port name, not {type(value).__name__}')
    text = value.strip()
    if text.isascii() and text.isdigit():  # ASCII only: int() rejects '²', Go rejects '٣'
        number = to_int(text)
        if not MIN_PORT <= number <= MAX_PORT:
            raise PortError(f"port {number} is outside 1-65535")
        return PortRange(number, number)
    match = _RANGE_RE.match(text)
    if match:
        lo, hi = to_int(match.group(1)), to_int(match.group(2))
        if not (MIN_PORT <= lo <= MAX_PORT and MIN_PORT <= hi <= MAX_PORT):
            raise PortError(f"port range {text} must lie within 1-65535")
        if lo > hi:
            raise PortError(f"port range {text} is reversed (the first port must not exceed the second)")
        return PortRange(lo, hi)
    if re.match(r"^\d+\s*-\s*\d+$", text):
        lo_s, hi_s = (p.strip() for p in text.split("-"))
        raise PortError(
            f"{text!r} uses a dash: Calico port ranges are written with a colon ({lo_s}:{hi_s}); "
            "with a dash the value is read as a port name and rejected"
        )
    if not _NAMED_PORT_SYNTAX.match(text) or not _K8S_PORT_NAME.match(text) or not re.search("[a-z]", text):
        raise PortError(
            f'{text!r} is neither a port number, a "min:max" range nor a valid port name '
            "(at most 15 lowercase letters, digits and '-', with at least one letter)"
        )
    return text


def protocol_number(value: object) -> int | None:
    """The IP protocol number of a Calico protocol value, or None when it is not valid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= 255 else None
    if isinstance(value, str):
        if value in PROTOCOL_NUMBERS:
            return PROTOCOL_NUMBERS[value]
        if value.isascii() and value.isdigit():
            number = to_int(value)
            return number if 1 <= number <= 255 else None
    return None


def protocol_name(number: int | None) -> str:
    if number is None:
        return "any protocol"
    for name, value in PROTOCOL_NUMBERS.items():
        if value == number:
            return name
    return f"protocol {number}"


class PortSet:
    """An immutable set of port numbers stored as sorted, disjoint, non-adjacent ranges."""

    __slots__ = ("_ranges",)

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._ranges: tuple[tuple[int, int], ...] = merge(ranges)

    @classmethod
    def of(cls, *items: PortRange | int | tuple[int, int]) -> PortSet:
        out = []
        for item in items:
            if isinstance(item, PortRange):
                out.append((item.lo, item.hi))
            elif isinstance(item, int):
                out.append((item, item))
            else:
                out.append(item)
        return cls(out)

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        return self._ranges

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSet) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __contains__(self, port: int) -> bool:
        return any(lo <= port <= hi for lo, hi in self._ranges)

    def __or__(self, other: PortSet) -> PortSet:
        return PortSet(self._ranges + other._ranges)

    def __and__(self, other: PortSet) -> PortSet:
        out = []
        for lo, hi in self._ranges:
            for olo, ohi in other._ranges:
                a, b = max(lo, olo), min(hi, ohi)
                if a <= b:
                    out.append((a, b))
        return PortSet(out)

    def __sub__(self, other: PortSet) -> PortSet:
        return self & other.complement()

    def complement(self) -> PortSet:
        out = []
        start = MIN_PORT
        for lo, hi in self._ranges:
            if lo > start:
                out.append((start, lo - 1))
            start = max(start, hi + 1)
        if start <= MAX_PORT:
            out.append((start, MAX_PORT))
        return PortSet(out)

    def first(self) -> int:
        """The lowest port of a non-empty set."""
        return self._ranges[0][0]

    def issuperset(self, other: PortSet) -> bool:
        return not (other - self)

    def count(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self._ranges)

    def __str__(self) -> str:
        if not self._ranges:
            return "no ports"
        if self._ranges == ((MIN_PORT, MAX_PORT),):
            return "all ports"
        return ", ".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in self._ranges)

    def __repr__(self) -> str:
        return f"PortSet({self})"


ALL_PORTS = PortSet([(MIN_PORT, MAX_PORT)])
NO_PORTS = PortSet()


def parse_range_text(text: str) -> PortSet:
    """``"30000-32767"`` or ``"30000:32767"`` (config and kube-apiserver syntax) as a PortSet."""
    cleaned = text.replace("-", ":").strip()
    parsed = parse_port(cleaned if ":" in cleaned else int(cleaned))
    if isinstance(parsed, str):
        raise PortError(f"{text!r} is not a port range")
    return PortSet.of(parsed)
