"""CA004's wording: what is wrong with one network or address value, why, and what to write."""

from __future__ import annotations

from typing import NamedTuple

from netaddr import IPNetwork

from auditor.calico_validation import PLACEHOLDER_FIX, NetProblem, is_cidr_notation, looks_like_placeholder
from auditor.wording import sentence


class Text(NamedTuple):
    message: str  # what is wrong and why
    fix: str  # what to write instead


def net_text(raw: str, problem: NetProblem, noun: str, bare_why: str, single_ok: bool = True) -> Text:
    """One network value: ``single_ok`` says a one-address network is a sensible alternative for the field."""
    if problem.kind == "bare-ip":
        return Text(f"`{raw}` has no prefix length: {bare_why}", f"Write `{problem.fix}`.")
    if problem.kind == "host-bits":
        alternative = f" (or `{problem.host}` for one address)" if single_ok else ""
        return Text(
            f"`{raw}` has host bits set: Calico rejects {noun} that are not strictly masked",
            f"Write `{problem.fix}`{alternative}.",
        )
    if problem.kind == "comment":
        rest = raw.strip()[len(problem.fix) :].strip()
        return Text(
            f"`{raw}` is not a CIDR: the text after the address is part of the value (a YAML comment needs "
            "` #` before it)",
            f"Write `{problem.fix}  # {rest}`.",
        )
    if looks_like_placeholder(raw):
        return Text(
            f"`{raw}` is an unfilled placeholder, not a CIDR, and Calico rejects it as written",
            sentence(PLACEHOLDER_FIX),
        )
    return Text(
        f"`{raw}` is not a valid CIDR: {noun} must be networks",
        "Write a network such as `10.0.0.0/16` or `fd00::/64`.",
    )


def not_an_address(raw: str, rejected_by: str, example: str) -> Text:
    if looks_like_placeholder(raw):
        return Text(
            f"`{raw}` is an unfilled placeholder, not an IP address, and {rejected_by} rejects it",
            sentence(PLACEHOLDER_FIX),
        )
    message = f"`{raw}` is not a valid IP address: {rejected_by} rejects it"
    return Text(message, f"Write an address such as `{example}`.")


def address_text(raw: str, field: str) -> Text:
    if is_cidr_notation(raw):
        return Text(f"`{raw}` is a CIDR, but `{field}` takes a plain IP address", f"Write `{raw.split('/')[0]}`.")
    return not_an_address(raw, "Kubernetes", "10.96.0.10")


def family(net: IPNetwork) -> str:
    return f"IPv{net.version}"
