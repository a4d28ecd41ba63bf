"""CA007 sub-checks on tiers, FelixConfiguration and BGPConfiguration (facts 1.10, 1.12, 1.13)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import SubCheck
from auditor.findings import Issue, Severity
from auditor.model import BGPConfiguration, FelixConfiguration, Tier, as_dict, as_list
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


def _failsafe_protocols(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            protocol = as_dict(item).get("protocol")
            if not isinstance(protocol, str) or protocol in ("TCP", "UDP", "SCTP"):
                continue
            fix = (
                f"write `{protocol.upper()}` (lower case is the environment-variable syntax)"
                if protocol.upper() in ("TCP", "UDP", "SCTP")
                else "use TCP, UDP or SCTP"
            )
            yield issue(
                config,
                f"failsafe protocol `{protocol}`: Calico accepts only `TCP`, `UDP` or `SCTP` here; {fix}",
                ("spec", key, i, "protocol"),
            )


def _bgp_configuration_name(config: BGPConfiguration) -> Iterator[Issue]:
    name = config.name
    if not name or name == "default" or (name.startswith("node.") and len(name) > len("node.")):
        return
    yield issue(
        config,
        f"BGPConfiguration `{name}` is ignored: Calico reads only `default` (cluster-wide, including the "
        "service IP ranges) and `node.<node-name>` (per node); rename it to `default`",
        ("metadata", "name"),
        severity=Severity.WARNING,
    )



SUB_CHECKS = (
    SubCheck("CA007/tier-reserved", ("Tier",), "order and defaultAction of reserved tiers", _reserved_tier),
    SubCheck(
        "CA007/felixconfiguration-failsafe-protocol",
        ("FelixConfiguration",),
        "failsafe port protocols",
        _failsafe_protocols,
    ),
    SubCheck(
        "CA007/bgpconfiguration-name",
        ("BGPConfiguration",),
        "names other than `default` and `node.<name>`",
        _bgp_configuration_name,
    ),
)
