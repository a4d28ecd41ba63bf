"""What several rules about host policy walk alike (a helper module: no rule of its own)."""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPNetwork

from auditor.model import Policy, PolicyRule, Ref
from auditor.packet.questions import Evaluator


def single_destinations(ev: Evaluator) -> Iterator[tuple[Policy, PolicyRule, Ref[IPNetwork], IPNetwork]]:
    """The single-address destination nets (``/32``, ``/128``) of the ingress rules of the policies that
    apply to host endpoints, in evaluation order: the addresses host rules mean one Service by."""
    for policy in ev.host_policies:
        if not ev.is_host_policy(policy):
            continue
        for rule in policy.ingress:
            for ref in rule.destination.nets:
                if ref.value is not None and ref.value.size == 1:
                    yield policy, rule, ref, ref.value
