"""CA007 rejected-by-calico: a value or combination Calico's API validation refuses.

Everything Calico's validator (``libcalico-go/lib/validator/v3``), its clients and its CRD rules
reject that is not a schema error (CA002), a selector syntax error (CA003), a network (CA004) or
a port (CA005): names and labels, rule actions and protocols, preDNAT with doNotTrack, misplaced
``global()``, ``services``/``http``/ICMP misuse, HostEndpoint, network-set, IP pool and tier rules,
staged deletes, failsafe protocols, BGPConfiguration, BGPPeer, BGPFilter and FelixConfiguration values,
annotations and profile names (facts 1.1-1.13).

The rule is a list of small per-kind sub-checks (``CA007/<kind>-<what>``), one helper module per
area (``rules/_ca007_*.py``); the engine dispatches each Calico resource to the sub-checks of its kind.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import Rule, SubCheck
from auditor.context import Context
from auditor.findings import Severity
from auditor.model import Resource
from auditor.rules import (
    _ca007_bgpconfiguration,
    _ca007_bgpfilter,
    _ca007_bgppeer,
    _ca007_felix_text,
    _ca007_felixconfiguration,
    _ca007_hostendpoint,
    _ca007_ippool,
    _ca007_metadata,
    _ca007_policy,
    _ca007_policy_matches,
    _ca007_tier,
)

SUB_CHECKS: tuple[SubCheck, ...] = (
    *_ca007_metadata.SUB_CHECKS,
    *_ca007_policy.SUB_CHECKS,
    *_ca007_policy_matches.SUB_CHECKS,
    *_ca007_hostendpoint.SUB_CHECKS,
    *_ca007_ippool.SUB_CHECKS,
    *_ca007_tier.SUB_CHECKS,
    *_ca007_felixconfiguration.SUB_CHECKS,
    *_ca007_felix_text.SUB_CHECKS,
    *_ca007_bgpconfiguration.SUB_CHECKS,
    *_ca007_bgppeer.SUB_CHECKS,
    *_ca007_bgpfilter.SUB_CHECKS,
)


def _calico_resources(ctx: Context) -> Iterator[Resource]:
    return (r for r in ctx.model.resources if r.is_calico)


RULE = Rule(
    id="CA007",
    name="rejected-by-calico",
    title="A value or combination that Calico's API validation rejects",
    severity=Severity.ERROR,
    rationale=(
        "`calicoctl` and the Calico API server validate every resource before storing it. A rejected "
        "object is simply not applied: the policy you reviewed never takes effect, or an old version stays "
        "in force. Typical causes are case (`action: allow`, `protocol: tcp`), names with upper case, `_` "
        "or extra dots, `preDNAT` together with `doNotTrack`, `global()` outside a rule's "
        "`namespaceSelector`, `icmp` fields without an ICMP protocol, HostEndpoints without `node` or "
        "without both `interfaceName` and `expectedIPs`, and IP pools that enable IPIP and VXLAN at once."
    ),
    remediation=(
        "Fix the value the finding points at as the message says: use the exact case Calico expects "
        "(`Allow`, `TCP`), lower-case DNS names, one encapsulation per pool, plain addresses in "
        "`expectedIPs`, and `global()` only as a rule's whole `namespaceSelector`."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/globalnetworkpolicy",
        "https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#rule",
        "https://docs.tigera.io/calico/latest/reference/resources/hostendpoint",
        "https://docs.tigera.io/calico/latest/reference/resources/ippool",
    ),
    tags=("structure", "validation"),
    autofix="safe",
    autofix_text=(
        "writes a rule's `action` or `protocol`/`notProtocol` in Calico's case (`tcp` -> `TCP`, `allow` -> `Allow`)"
    ),
    sub_checks=SUB_CHECKS,
    scope=_calico_resources,
)
