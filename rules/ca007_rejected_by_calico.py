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

from auditor.api import Context, Example, Rule, Severity, SubCheck
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
    examples=(
        Example(
            title="lower-case action and protocol, preDNAT with doNotTrack",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  applyOnForward: true
  preDNAT: true
  doNotTrack: true
  ingress:
  - action: allow
    protocol: tcp
    destination:
      nets: [10.20.30.40/32]
      ports: [443]
""",
            },
            expect=("8:12", "11:13", "12:15"),
        ),
        Example(
            title="a policy name with upper case and global() in a policy selector",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: Allow_Nodes
spec:
  selector: global()
  ingress:
  - action: Allow
    source:
      namespaceSelector: global() && has(k8s-role)
""",
            },
            expect=("4:9", "6:13", "10:26"),
        ),
        Example(
            title="host endpoints: missing interface and expected IPs, a CIDR in expectedIPs",
            files={
                "heps.yaml": """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels: {k8s-role: node}
spec:
  node: node1
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node2-eth0
  labels: {k8s-role: node}
spec:
  node: node2
  interfaceName: eth0
  expectedIPs: [10.0.0.12/32]
""",
            },
            expect=("6:1", "17:17"),
        ),
        Example(
            title="icmp fields on a TCP rule, and services combined with a selector",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-nodes-svc-a
  namespace: prod
spec:
  selector: app == 'a'
  ingress:
  - action: Allow
    protocol: TCP
    icmp: {type: 8}
  - action: Allow
    source:
      selector: k8s-role == 'node'
      services: {name: svc-b}
""",
            },
            expect=("11:5", "15:7"),
        ),
        Example(
            title="an IP pool with IPIP and VXLAN both enabled",
            files={
                "pool.yaml": """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pod-pool
spec:
  cidr: 192.168.0.0/16
  ipipMode: Always
  vxlanMode: CrossSubnet
""",
            },
            expect=("8:14",),
        ),
        Example(
            title="a BGPConfiguration name Calico ignores",
            files={
                "bgp.yaml": """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: cluster-ips
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
""",
            },
            expect=("4:9",),
        ),
        Example(
            title="valid resources from the guide",
            files={
                "all.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Allow
    protocol: TCP
    source:
      namespaceSelector: global()
      selector: k8s-role == 'node'
  - action: Allow
    protocol: ICMP
    icmp: {type: 8}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels: {k8s-role: node}
spec:
  node: node1
  interfaceName: eth0
  expectedIPs: [10.0.0.11]
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  failsafeInboundHostPorts:
  - {protocol: TCP, port: 22}
""",
            },
        ),
        Example(
            title="a BGPPeer with both node and nodeSelector, and a lower-case Felix BPF log level",
            files={
                "bgp.yaml": """\
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack-a-tor
spec:
  node: node1
  nodeSelector: rack == 'a'
  peerIP: 192.0.2.1
  asNumber: 64512
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  bpfLogLevel: debug
""",
            },
            expect=("6:3", "16:16"),
        ),
    ),
    sub_checks=SUB_CHECKS,
    scope=_calico_resources,
)
