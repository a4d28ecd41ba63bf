"""Shared helpers of CA007's sub-check modules (``rules/_ca007_*.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from auditor.api import Issue, PathT
from auditor.model import Policy, PolicyRule, Resource, as_dict, as_list
from auditor.nets import NetError
from auditor.rules._ca00_kinds import CALICO_POLICIES
from auditor.wording import sentence

ALL = ("*",)  # every Calico resource (CA007 runs on projectcalico.org resources only)
POLICIES = CALICO_POLICIES
HEP = ("HostEndpoint",)
POOL = ("IPPool",)


# The imperative a remedy starts with, in CA007's wording "<what is wrong and why>; <what to do>".
_REMEDY = re.compile(
    r"^(?:(?:add|change|choose|delete|drop|fix|give|keep|list|lower-case|make|merge|move|omit|put|quote|remove|"
    r"rename|replace|select|set|spell|split|substitute|use|write)\b|to [a-z]+ [^,;]*, [a-z]+ )"
)


def split_remedy(text: str) -> tuple[str, str]:
    """``"<what and why>; <remedy>"`` -> (message, fix sentence); text without a remedy is all message.

    Calico's and Kubernetes' reasons are worded once, in :mod:`auditor.calico_validation` and here; the
    remedy after the last ``; `` that starts with an imperative becomes the finding's ``fix``.
    """
    head, sep, tail = text.rpartition("; ")
    if not sep or not _REMEDY.match(tail):
        return text, ""
    return head, sentence(tail)


def issue(
    resource: Resource, message: str, path: PathT, on_key: bool = False, fix: str = "", **extra: Any
) -> Issue:
    """A CA007 issue: the message says what is wrong and why; the remedy (``fix``, or the imperative
    tail of ``message`` after its last ``; ``, see :func:`split_remedy`) is the finding's fix."""
    if not fix:
        message, fix = split_remedy(message)
    return Issue(message, at=resource.ptr_at(path, on_key=on_key), identity=resource.identity, fix=fix, **extra)


def raw_rule(rule: PolicyRule) -> dict[str, Any]:
    return as_dict(as_list(rule.policy.spec.get(rule.direction))[rule.index]) if not rule.policy.is_kubernetes else {}


def raw_entity(rule: PolicyRule, side: str) -> dict[str, Any]:
    return as_dict(raw_rule(rule).get(side))


def each_rule(check: Callable[[PolicyRule], Iterator[Issue]]) -> Callable[[Policy], Iterator[Issue]]:
    """A policy sub-check that runs ``check`` on every rule of the policy."""

    def run(policy: Policy) -> Iterator[Issue]:
        for rule in policy.rules:
            yield from check(rule)

    return run



def lower_case_value(resource: Resource, key: str, allowed: tuple[str, ...]) -> Iterator[Issue]:
    """``spec.<key>`` written in another case than Calico's validator accepts.

    The v3.32 CRD patterns accept any case (``^(?i)(...)``), so ``kubectl apply`` of the CRD alone
    may store the value, but Calico v3.32's validator (calicoctl, the Calico API server) compares
    case-sensitively and rejects it.
    """
    value = resource.spec.get(key)
    if not isinstance(value, str) or not value or value in allowed:
        return
    fix = next((a for a in allowed if a.lower() == value.lower()), None)
    if fix is None:
        return  # not a known value in any case: the schema's finding (CA002)
    yield issue(
        resource,
        f"`{key}: {value}`: Calico v3.32's validator (calicoctl, the Calico API server) rejects it because it "
        f"compares case-sensitively, although the v3.32 CRD pattern accepts any case; write `{fix}`",
        ("spec", key),
    )


_NET_REMEDY = re.compile(r"^(?P<what>.*?): (?:the network is (?P<net>\S+), write that instead|write (?P<cidr>\S+))$")


def cidr_issue(resource: Resource, label: str, exc: NetError, path: PathT) -> Issue:
    """``label``'s value is not the network Calico expects (``exc`` from :func:`auditor.nets.parse_cidr`)."""
    text = str(exc)
    remedy = _NET_REMEDY.match(text)
    if remedy is None:
        return issue(resource, f"{label}: {text}; Calico rejects it", path)
    right = remedy.group("net") or remedy.group("cidr")
    return issue(resource, f"{label}: {remedy.group('what')}; Calico rejects it", path, fix=f"Write `{right}`.")
