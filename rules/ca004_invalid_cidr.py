"""CA004 invalid-cidr: a network or address Calico or Kubernetes rejects, so the object is never applied.

Covered fields (facts 1.5, 1.9-1.12, 4.2): rule ``nets``/``notNets`` (CIDR with a prefix, strictly
masked, one IP family per rule, matching ``ipVersion``, no catch-all in ``notNets``); IPPool
``cidr``; BGPConfiguration service ranges; (Global)NetworkSet ``nets``; Kubernetes NetworkPolicy
``ipBlock``; FelixConfiguration failsafe ``net``; Service cluster, external and load-balancer IPs;
HostEndpoint ``expectedIPs`` that are not addresses at all (CIDR-style ``expectedIPs`` are CA007).

The rule is a list of small per-kind sub-checks (``CA004/<kind>-<what>``), one helper module per area
(``rules/_ca004_*.py``); the engine dispatches each resource to the sub-checks of its kind.
"""

from __future__ import annotations

from auditor.catalog import Rule, SubCheck
from auditor.findings import Severity
from auditor.rules import _ca004_policy, _ca004_resources, _ca004_service

SUB_CHECKS: tuple[SubCheck, ...] = (
    *_ca004_policy.SUB_CHECKS,
    *_ca004_resources.SUB_CHECKS,
    *_ca004_service.SUB_CHECKS,
)

RULE = Rule(
    id="CA004",
    name="invalid-cidr",
    title="A CIDR or IP address that Calico or Kubernetes rejects",
    severity=Severity.ERROR,
    rationale=(
        "Calico validates every network in a resource before storing it, and one bad entry rejects the "
        "whole object: `calicoctl apply` or `kubectl apply` fails and the policy you reviewed is never "
        "enforced (or the previous version stays in place). Rule `nets` must be CIDRs with an explicit "
        "prefix and no host bits (`10.20.30.40/24` is rejected, `10.20.30.40` too), a rule may not mix "
        "IPv4 and IPv6 or contradict its `ipVersion`, and since v3.31 `notNets: [0.0.0.0/0]` is rejected "
        "because it matches nothing. IP pools must be strictly masked and stay clear of link-local "
        "ranges; BGP service ranges are parsed as CIDRs by confd; Kubernetes rejects Services whose "
        "cluster or external IPs are not addresses and NetworkPolicy `ipBlock`s that are not CIDRs."
    ),
    remediation=(
        "Write networks as `address/prefix` with the host bits cleared (`10.20.30.0/24`, or "
        "`10.20.30.40/32` for a single address). Put a `#` before trailing comments. Split a rule that "
        "needs both IPv4 and IPv6 networks into two rules. Write Service IPs as plain addresses."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#entityrule",
        "https://docs.tigera.io/calico/latest/reference/resources/ippool",
        "https://docs.tigera.io/calico/latest/reference/resources/bgpconfig",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    ),
    sub_checks=SUB_CHECKS,
    tags=("structure", "validation", "networks"),
    guide_step="Step 2, first and second examples (the published docs lost the `#` of `# Cluster IP A`)",
)
