"""CA007 sub-checks on tiers: the reserved tiers' order and default action (facts 1.13)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Issue, SubCheck
from auditor.model import Tier
from auditor.rules._ca007_common import issue

# name: (order, defaultAction) Calico requires; a missing order defaults to 1,000,000 and a missing
# defaultAction to Deny (DefaultTierFields).
_RESERVED_TIERS = {
    "default": (1_000_000.0, "Deny"),
    "kube-admin": (1_000.0, "Pass"),
    "kube-baseline": (10_000_000.0, "Pass"),
}


def _reserved_tier(tier: Tier) -> Iterator[Issue]:
    wanted = _RESERVED_TIERS.get(tier.name)
    if wanted is None:
        return
    order, action = wanted
    spec = tier.spec
    raw_order = spec.get("order", 1_000_000.0)
    if isinstance(raw_order, (int, float)) and not isinstance(raw_order, bool) and raw_order != order:
        yield issue(
            tier,
            f"tier `{tier.name}` must have `order: {order:g}`: Calico reserves this tier and rejects other orders",
            ("spec", "order") if "order" in spec else ("spec",),
            on_key="order" not in spec,
        )
    raw_action = spec.get("defaultAction", "Deny")
    if isinstance(raw_action, str) and raw_action in ("Deny", "Pass") and raw_action != action:
        yield issue(
            tier,
            f"tier `{tier.name}` must have `defaultAction: {action}`: Calico reserves this tier and rejects "
            "other end-of-tier actions",
            ("spec", "defaultAction") if "defaultAction" in spec else ("spec",),
            on_key="defaultAction" not in spec,
        )





SUB_CHECKS = (
    SubCheck("CA007/tier-reserved", ("Tier",), "order and defaultAction of reserved tiers", _reserved_tier),
)
