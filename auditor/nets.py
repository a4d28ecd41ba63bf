"""IP addresses and CIDRs with Calico's validation rules, and IP sets for the set algebra."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from netaddr import IPNetwork, IPSet

IPv4_ALL = IPNetwork("0.0.0.0/0")
IPv6_ALL = IPNetwork("::/0")


class NetError(ValueError):
    """A value Calico would not accept as a network; ``message`` says why."""


@lru_cache(maxsize=65536)
def parse_cidr(value: str, strict: bool = True, allow_bare_ip: bool = False) -> IPNetwork:
    """A CIDR as Calico's validator reads it.

    ``strict``: host bits must be zero (rule ``nets``, IPPool ``cidr``, BGP service ranges).
    ``allow_bare_ip``: a plain address counts as /32 or /128 (network sets).
    """
    text = value.strip()
    if "/" not in text:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise NetError(f"{value!r} is not an IP network (expected a CIDR such as 10.0.0.0/16)") from None
        if not allow_bare_ip:
            suffix = 32 if addr.version == 4 else 128
            raise NetError(f"{value!r} has no prefix length: write {addr}/{suffix}")
        return IPNetwork(f"{addr}/{32 if addr.version == 4 else 128}")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise NetError(f"{value!r} is not a valid CIDR ({exc})") from None
    if strict and net.network_address != ipaddress.ip_interface(text).ip:
        raise NetError(f"{value!r} has host bits set: the network is {net}, write that instead")
    return IPNetwork(str(net))


@lru_cache(maxsize=65536)
def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A single IP address (Service clusterIP, HostEndpoint expectedIPs)."""
    text = value.strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        if "/" in text:
            raise NetError(f"{value!r} is a CIDR, but a single IP address is expected here") from None
        raise NetError(f"{value!r} is not a valid IP address") from None


def family(net: IPNetwork) -> int:
    return int(net.version)


def describe(ipset: IPSet, limit: int = 4, universe: IPSet | None = None) -> str:
    """A short text for an IP set; with ``universe``, a set covering most of it is described by what
    it leaves out ("any outside address except 60.70.0.0/16")."""
    if universe is not None and ipset and ipset.size * 2 > universe.size:
        rest = universe - ipset
        return "any outside address" + (f" except {describe(rest, limit)}" if rest else "")
    cidrs = ipset.iter_cidrs()
    shown = ", ".join(str(c) for c in cidrs[:limit])
    if len(cidrs) > limit:
        shown += f" and {len(cidrs) - limit} more"
    return shown or "nothing"
