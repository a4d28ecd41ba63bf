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

from auditor.catalog import Example, Rule, SubCheck
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
    examples=(
        Example(
            title="host bits set and a YAML comment without '#' in preDNAT rule nets",
            files={
                "policy.yaml": """\
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
    source:
      nets:
      - 50.60.0.0/16
    destination:
      nets:
      - 10.20.30.40/24
      - 10.20.30.41/32  Cluster IP B
""",
            },
            expect=("17:9", "18:9"),
        ),
        Example(
            title="one rule mixing IPv4 and IPv6, and a catch-all notNets",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-to-pods
spec:
  selector: k8s-role == 'node'
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Allow
    destination:
      nets: [192.168.0.0/16, 'fd00:10:244::/56']
  - action: Deny
    source:
      notNets: [0.0.0.0/0]
""",
            },
            expect=("12:30", "15:17"),
        ),
        Example(
            title="an IP pool and a BGP service range that are not strictly masked",
            files={
                "network.yaml": """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pod-pool
spec:
  cidr: 192.168.10.0/16
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.1/12
""",
            },
            expect=("6:9", "14:11"),
        ),
        Example(
            title="a Service cluster IP that is not an address, and an ipBlock except outside its cidr",
            files={
                "svc.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: svc-a
  namespace: prod
spec:
  clusterIP: 10.96.0.300
  selector: {app: a}
  ports: [{port: 443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-office
  namespace: prod
spec:
  podSelector: {}
  ingress:
  - from:
    - ipBlock:
        cidr: 50.60.0.0/16
        except: [70.80.90.0/24]
""",
            },
            expect=("7:14", "22:18"),
        ),
        Example(
            title="valid networks everywhere",
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
    source:
      nets: [50.60.0.0/16]
      notNets: [50.60.7.0/24]
    destination:
      nets: [10.20.30.40/32]  # Cluster IP A
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: office
  labels: {role: office}
spec:
  nets: [50.60.1.7, 50.60.2.9/24]
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
apiVersion: v1
kind: Service
metadata:
  name: svc-a
spec:
  clusterIP: 10.20.30.40
  clusterIPs: [10.20.30.40, 'fd00::40']
  selector: {app: a}
  ports: [{port: 443}]
""",
            },
        ),
    ),
)

