"""CA007 sub-checks on BGPFilter rules and on AS numbers (v3.32 ``validateBGPFilterRule`` and tags).

A filter rule pairs ``cidr`` with ``matchOperator`` (one without the other is rejected), needs a
``cidr`` for ``prefixLength``, uses a CIDR of its own family (``exportV4``/``importV4`` take IPv4)
and prefix lengths within it; ``action`` is ``Accept``/``Reject`` and ``matchOperator`` one of
``Equal``, ``In``, ``NotEqual``, ``NotIn`` (case-sensitive); ``interface`` is an interface name or
pattern. AS numbers are 32-bit integers, written plain or dotted (``1.10``, two 16-bit parts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from auditor.calico_validation import PLACEHOLDER_FIX, looks_like_placeholder
from auditor.catalog import SubCheck
from auditor.findings import Issue, PathT
from auditor.model import Resource, as_dict, as_list
from auditor.nets import NetError, parse_cidr
from auditor.rules._ca007_common import cidr_issue, issue

_FILTER = ("BGPFilter",)
_ACTIONS = ("Accept", "Reject")
_OPERATORS = ("Equal", "In", "NotEqual", "NotIn")
_INTERFACE = re.compile(r"^[a-zA-Z0-9_.*-]{1,15}$")
_LISTS = (("exportV4", 4), ("importV4", 4), ("exportV6", 6), ("importV6", 6))


def _rules(bgp_filter: Resource) -> Iterator[tuple[dict[str, Any], PathT, int]]:
    for key, version in _LISTS:
        for i, rule in enumerate(as_list(bgp_filter.spec.get(key))):
            yield as_dict(rule), ("spec", key, i), version


def _enum(bgp_filter: Resource, rule: dict[str, Any], at: PathT, key: str, allowed: tuple[str, ...]) -> Iterator[Issue]:
    value = rule.get(key)
    if value is None or value in allowed:
        return
    fix = next((a for a in allowed if isinstance(value, str) and a.lower() == value.lower()), None)
    hint = f"write `{fix}` (values are case-sensitive)" if fix else f"use one of {', '.join(allowed)}"
    yield issue(bgp_filter, f"BGPFilter {key} `{value}`: Calico rejects it; {hint}", (*at, key))


def _filter_values(bgp_filter: Resource) -> Iterator[Issue]:
    for rule, at, _ in _rules(bgp_filter):
        yield from _enum(bgp_filter, rule, at, "action", _ACTIONS)
        yield from _enum(bgp_filter, rule, at, "matchOperator", _OPERATORS)
        name = rule.get("interface")
        if isinstance(name, str) and name != "*" and not _INTERFACE.match(name):
            yield issue(
                bgp_filter,
                f"BGPFilter interface `{name}` is not an interface name or pattern (1-15 letters, digits, '_', '.', "
                "'-' or '*'): Calico rejects it",
                (*at, "interface"),
            )


def _filter_match(bgp_filter: Resource) -> Iterator[Issue]:
    for rule, at, version in _rules(bgp_filter):
        cidr, operator = rule.get("cidr"), rule.get("matchOperator")
        if cidr and not operator:
            yield issue(
                bgp_filter,
                "BGPFilter rule with `cidr` but no `matchOperator`: Calico rejects it; add `matchOperator` "
                "(Equal, In, NotEqual or NotIn)",
                (*at, "cidr"),
                on_key=True,
            )
        for key in ("matchOperator", "prefixLength"):
            if not cidr and rule.get(key) is not None:
                yield issue(
                    bgp_filter,
                    f"BGPFilter rule with `{key}` but no `cidr`: Calico rejects it; add the `cidr` it applies to",
                    (*at, key),
                    on_key=True,
                )
        if isinstance(cidr, str) and cidr:
            yield from _filter_cidr(bgp_filter, rule, at, cidr, version)


def _filter_cidr(bgp_filter: Resource, rule: dict[str, Any], at: PathT, cidr: str, version: int) -> Iterator[Issue]:
    try:
        network = parse_cidr(cidr, strict=False, allow_bare_ip=True)
    except NetError as exc:
        yield cidr_issue(bgp_filter, "BGPFilter cidr", exc, (*at, "cidr"))
        return
    if network.version != version:
        yield issue(
            bgp_filter,
            f"BGPFilter cidr `{cidr}` is IPv{network.version} in an IPv{version} rule list: Calico rejects it; move "
            f"it to the V{network.version} list",
            (*at, "cidr"),
        )
        return
    limit = 32 if version == 4 else 128
    for bound in ("min", "max"):
        value = as_dict(rule.get("prefixLength")).get(bound)
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= limit:
            yield issue(
                bgp_filter,
                f"BGPFilter prefixLength {bound} {value} is outside 0-{limit} for IPv{version}: Calico rejects it",
                (*at, "prefixLength", bound),
            )


def as_number_problem(value: Any) -> str | None:
    """Why ``value`` is not an AS number (plain 32-bit or dotted ``a.b`` with 16-bit parts), or None."""
    if isinstance(value, bool):
        return "is not a number"
    if isinstance(value, int):
        return None if 0 <= value <= 0xFFFFFFFF else "is outside 0-4294967295"
    if not isinstance(value, str):
        return None  # a type error (CA002)
    text = value.strip()
    if text.isascii() and text.isdigit():
        return None if int(text) <= 0xFFFFFFFF else "is outside 0-4294967295"
    high, dot, low = text.partition(".")
    if dot and text.isascii() and high.isdigit() and low.isdigit():
        return None if int(high) <= 0xFFFF and int(low) <= 0xFFFF else "has a dotted part above 65535"
    return "is not an AS number (an integer, or dotted `a.b`)"


def _as_numbers(resource: Resource) -> Iterator[Issue]:
    for key in ("asNumber", "localASNumber"):
        if key not in resource.spec:
            continue
        value = resource.spec.get(key)
        why = as_number_problem(value)
        if why and isinstance(value, str) and looks_like_placeholder(value):
            message = f"{key} `{value}` is an unfilled placeholder, and Calico rejects it as written; {PLACEHOLDER_FIX}"
            yield issue(resource, message, ("spec", key))
        elif why:
            yield issue(resource, f"{key} `{value}` {why}: Calico rejects it", ("spec", key))


SUB_CHECKS = (
    SubCheck("CA007/bgpfilter-values", _FILTER, "filter actions, match operators and interfaces", _filter_values),
    SubCheck("CA007/bgpfilter-match", _FILTER, "`cidr` with `matchOperator` and `prefixLength`", _filter_match),
    SubCheck("CA007/bgp-as-number", ("BGPPeer", "BGPConfiguration"), "AS number syntax and range", _as_numbers),
)
