"""CA007 sub-checks on policy rules' ``services`` and ``http`` matches (facts 1.5, 1.6)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.api import Issue, Related, SubCheck
from auditor.calico_validation import ACTIONS
from auditor.model import EntityRule, PolicyRule, as_dict, as_list
from auditor.rules._ca007_common import POLICIES, each_rule, issue, raw_entity, raw_rule

_SERVICE_CONFLICTS = (
    ("selector", "selector"),
    ("notSelector", "notSelector"),
    ("namespaceSelector", "namespaceSelector"),
    ("serviceAccounts", "serviceAccounts"),
    ("nets", "nets"),
    ("notNets", "notNets"),
)


def _services_misuse(rule: PolicyRule) -> Iterator[Issue]:
    policy = rule.policy
    for side, entity in (("source", rule.source), ("destination", rule.destination)):
        if entity.services is None:
            continue
        yield from _services_in_entity(rule, side, entity)
    if rule.direction == "egress" and rule.source.services is not None:
        yield issue(
            policy,
            "`services` in an egress rule's source: Calico allows a service match only as the destination of "
            "egress rules; move it to `destination`",
            rule.source.path + ("services",),
            on_key=True,
        )
    if rule.direction == "ingress" and rule.destination.services is not None:
        yield issue(
            policy,
            "`services` in an ingress rule's destination: Calico allows a service match only as the source of "
            "ingress rules; to police traffic to a Service, select its pods in the policy `selector`",
            rule.destination.path + ("services",),
            on_key=True,
        )


def _services_in_entity(rule: PolicyRule, side: str, entity: EntityRule) -> Iterator[Issue]:
    policy = rule.policy
    services: Mapping[str, Any] = entity.services or {}
    at = entity.path + ("services",)
    if not services.get("name"):
        yield issue(policy, "`services` without `name`: Calico requires the Service name", at, on_key=True)
    raw = raw_entity(rule, side)
    conflicts = [key for key, _ in _SERVICE_CONFLICTS if raw.get(key) not in (None, "", [], {})]
    if conflicts:
        shown = ", ".join(f"`{c}`" for c in conflicts)
        yield issue(
            policy,
            f"`services` together with {shown} in the same {side}: Calico rejects this combination (a service "
            "match already stands for the Service's endpoints); use a separate rule for the other criteria",
            at,
            on_key=True,
            related=tuple(Related(policy.ptr_at(entity.path + (c,), on_key=True), c) for c in conflicts),
        )
    outward = (rule.direction == "egress" and side == "destination") or (
        rule.direction == "ingress" and side == "source"
    )
    if policy.is_global and outward and not services.get("namespace"):
        yield issue(
            policy,
            "`services` without `namespace` in a global policy: Calico cannot tell which namespace's Service "
            "is meant and rejects it; add `namespace`",
            at,
            on_key=True,
        )
    if side == "destination":
        for key in ("ports", "notPorts"):
            if raw.get(key):
                yield issue(
                    policy,
                    f"destination `services` with `{key}`: Calico matches the Service's own endpoint ports and "
                    f"rejects extra ports; remove `{key}`",
                    entity.path + (key,),
                    on_key=True,
                )


def _http_misuse(rule: PolicyRule) -> Iterator[Issue]:
    if not rule.has_http:
        return
    policy = rule.policy
    at = rule.path + ("http",)
    if rule.direction == "egress":
        yield issue(policy, "`http` in an egress rule: Calico allows HTTP matches only in ingress rules", at, True)
    elif rule.action != "Allow" and rule.action in ACTIONS:
        yield issue(
            policy,
            f"`http` on a `{rule.action}` rule: Calico allows HTTP matches only on Allow rules",
            at,
            True,
        )
    if rule.protocol is not None and rule.protocol.value not in (None, 6):
        yield issue(
            policy,
            f"`http` with `protocol: {rule.protocol.raw}`: HTTP runs over TCP, so Calico requires protocol "
            "`TCP` (or none)",
            rule.protocol.path,
        )
    yield from _http_match_values(rule)


def _http_match_values(rule: PolicyRule) -> Iterator[Issue]:
    policy = rule.policy
    http = as_dict(raw_rule(rule).get("http"))
    seen: set[str] = set()
    for i, method in enumerate(as_list(http.get("methods"))):
        if not isinstance(method, str):
            continue
        if method in seen:
            yield issue(
                policy,
                f"HTTP method `{method}` is listed twice: Calico rejects duplicate methods; remove one",
                rule.path + ("http", "methods", i),
            )
        seen.add(method)
    for i, path in enumerate(as_list(http.get("paths"))):
        entry = as_dict(path)
        exact, prefix = entry.get("exact"), entry.get("prefix")
        value = exact or prefix
        where = rule.path + ("http", "paths", i)
        if exact and prefix:
            yield issue(policy, "an HTTP path sets both `exact` and `prefix`: Calico requires exactly one", where)
        elif not isinstance(value, str) or not value:
            yield issue(policy, "an HTTP path sets neither `exact` nor `prefix`: Calico requires one", where)
        elif not value.startswith("/") or any(c in value for c in "?# "):
            yield issue(
                policy,
                f"HTTP path `{value}` must start with `/` and contain no `?`, `#` or space: Calico rejects it",
                where,
            )



SUB_CHECKS = (
    SubCheck("CA007/policy-rule-services", POLICIES, "`services` matches", each_rule(_services_misuse)),
    SubCheck("CA007/policy-rule-http", POLICIES, "`http` matches", each_rule(_http_misuse)),
)
