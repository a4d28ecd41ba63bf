"""Realistic repositories against the semantic rules (CA1xx-CA4xx): red-team scenarios.

For each area the guide's users meet — local mode, dual stack, tiers, Kubernetes NetworkPolicy,
named ports, network sets and automatic host endpoints — one CLEAN repository (a correct setup that
follows the guide: no semantic finding at warning or error) and at least one DEFECT repository (one
planted pitfall: exactly the expected rule, at the expected file:line). Every flow witness must
replay through a fresh evaluator, exactly as ``audit trace`` does.

Scenarios on which the tool is wrong are kept and marked ``xfail(strict=True)`` with the reason, so
the problem stays recorded and the suite notices when it is fixed.
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

from auditor.packet.questions import Questions
from auditor.run import AuditResult
from tests.conftest import run_files

SEMANTIC_PREFIXES = ("CA1", "CA2", "CA3", "CA4")


def doc(*parts: str) -> str:
    """A multi-document YAML file from its documents."""
    parts = tuple(p.removeprefix("---\n") for p in parts)
    return "---\n" + "---\n".join(p if p.endswith("\n") else p + "\n" for p in parts)


def line_of(text: str, marker: str) -> int:
    """1-based line of the only line of ``text`` containing ``marker``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def semantic(result: AuditResult, *, notes: bool = False) -> list[str]:
    """``RULE path:line severity`` of every semantic finding at warning or error (notes too on request)."""
    out = []
    for f in result.findings:
        assert not f.internal_error, f"{f.rule_id} crashed: {f.message}"
        if not f.rule_id.startswith(SEMANTIC_PREFIXES):
            continue
        if f.severity.label == "note" and not notes:
            continue
        out.append(f"{f.rule_id} {f.location.path}:{f.location.span.line} {f.severity.label}")
    return sorted(out)


def structural(result: AuditResult) -> list[str]:
    """Findings of the structural rules (CA0xx): a scenario must be valid Calico to say anything."""
    return sorted(
        f"{f.rule_id} {f.location.path}:{f.location.span.line}: {f.message[:120]}"
        for f in result.findings
        if f.rule_id.startswith("CA0")
    )


def unreplayed(result: AuditResult) -> list[str]:
    """Flow witnesses that a fresh evaluator does not confirm."""
    bad = []
    for f in result.findings:
        w = f.witness
        if w is None or w.kind != "flow":
            continue
        if not Questions(result.model, result.config).replay(w):
            bad.append(f"{f.rule_id} at {f.location.path}:{f.location.span.line}: {w.command} is not {w.verdict_text}")
    return bad


def audit_repo(tmp_path: Path, files: dict[str, str]) -> AuditResult:
    result = run_files(tmp_path, files)
    assert structural(result) == [], "the scenario itself must be valid"
    assert unreplayed(result) == []
    return result


def assert_clean(tmp_path: Path, files: dict[str, str]) -> AuditResult:
    result = audit_repo(tmp_path, files)
    assert semantic(result) == []
    return result


def assert_defect(tmp_path: Path, files: dict[str, str], expected: list[str]) -> AuditResult:
    result = audit_repo(tmp_path, files)
    assert semantic(result) == sorted(expected)
    return result


# ------------------------------------------------------------------------------------------
# Shared building blocks
# ------------------------------------------------------------------------------------------

BGP = """\
# Advertise the Service CIDR and the load-balancer range to the top-of-rack routers.
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: true
  asNumber: 64512
  serviceClusterIPs:
  - cidr: 10.96.0.0/16
  serviceLoadBalancerIPs:
  - cidr: 198.18.0.0/24
"""

POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 10.244.0.0/16
  blockSize: 26
  vxlanMode: Always
  natOutgoing: true
  nodeSelector: all()
"""


def host_endpoints(label: str = "k8s-role: node") -> str:
    return doc(
        f"""\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels:
    {label}
spec:
  node: node1
  interfaceName: eth0
  expectedIPs:
  - 10.0.0.11
""",
        f"""\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node2-eth0
  labels:
    {label}
spec:
  node: node2
  interfaceName: eth0
  expectedIPs:
  - 10.0.0.12
""",
    )


HOST_TRAFFIC = """\
# Host traffic: everything to the hosts but the nodePort range, and all host egress.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-host-traffic
spec:
  selector: k8s-role == 'node'
  order: 300
  types: [Ingress, Egress]
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      selector: k8s-role == 'node'
      notPorts: ["30000:32767"]
  - action: Allow
    protocol: UDP
    destination:
      selector: k8s-role == 'node'
      notPorts: ["30000:32767"]
  - action: Allow
    protocol: ICMP
  egress:
  - action: Allow
"""


def edge_policies(
    allow_rules: str, deny_nets: str = "      - 10.96.0.0/16\n", pod_cidrs: str = "      - 10.244.0.0/16\n"
):
    """The guide's step 2 (cluster mode) with the Deny it forgets."""
    return doc(
        f"""\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  order: 100
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
{allow_rules}""",
        f"""\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-to-pods
spec:
  selector: k8s-role == 'node'
  order: 100
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Allow
    destination:
      nets:
{pod_cidrs}""",
        f"""\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-service-ips
spec:
  selector: k8s-role == 'node'
  order: 200
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Deny
    destination:
      nets:
{deny_nets}""",
        HOST_TRAFFIC,
    )


def deployment(name: str, namespace: str, labels: str, ports: str, replicas: int = 2) -> str:
    labels = labels.rstrip("\n")
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
{labels}
  template:
    metadata:
      labels:
{textwrap.indent(labels, "  ")}
    spec:
      containers:
      - name: {name}
        image: registry.example.com/{name}:1.4.2
        ports:
{ports}"""


# ------------------------------------------------------------------------------------------
# Local mode (externalTrafficPolicy: Local; the pods' own policy admits the clients)
# ------------------------------------------------------------------------------------------


def local_mode_repo(pod_policy: str, service_type: str = "LoadBalancer", extra_service: str = "") -> dict[str, str]:
    service = f"""\
apiVersion: v1
kind: Service
metadata:
  name: checkout
  namespace: shop
spec:
  type: {service_type}
  externalTrafficPolicy: Local
  clusterIP: 10.96.40.10
{extra_service}  selector:
    app: checkout
  ports:
  - name: https
    port: 443
    targetPort: https
    protocol: TCP
"""
    return {
        "cluster/bgp.yaml": doc(BGP, POOL),
        "apps/checkout.yaml": doc(
            service,
            deployment(
                "checkout",
                "shop",
                "      app: checkout\n",
                "        - name: https\n          containerPort: 8443\n          protocol: TCP\n",
            ),
        ),
        "apps/checkout-policy.yaml": pod_policy,
    }


LOCAL_POLICY = """\
---
# Local mode: the client address is kept, so the pods' policy names the outside clients directly.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: checkout-ingress
  namespace: shop
spec:
  selector: app == 'checkout'
  types:
  - Ingress
  ingress:
  - action: Allow
    protocol: TCP
    source:
      nets:
      - 203.0.113.0/24
      - 198.51.100.0/24
    destination:
      ports: [https]
  - action: Allow
    protocol: TCP
    source:
      namespaceSelector: projectcalico.org/name == 'frontend'
    destination:
      ports: [https]
"""


def test_local_mode_clean_load_balancer(tmp_path: Path) -> None:
    assert_clean(tmp_path, local_mode_repo(LOCAL_POLICY))


def test_local_mode_clean_node_port(tmp_path: Path) -> None:
    files = local_mode_repo(LOCAL_POLICY, service_type="NodePort")
    files["apps/checkout.yaml"] = files["apps/checkout.yaml"].replace(
        "    targetPort: https\n", "    targetPort: https\n    nodePort: 30443\n"
    )
    assert_clean(tmp_path, files)


def test_local_mode_defect_cluster_mode_recipe_blocks_clients(tmp_path: Path) -> None:
    """The cluster-mode step 3 (admit only the nodes) used on a local-mode Service: every client dropped."""
    policy = """\
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: checkout-ingress
  namespace: shop
spec:
  selector: app == 'checkout'
  types:
  - Ingress
  ingress:
  - action: Allow
    protocol: TCP
    source:
      namespaceSelector: global()
      selector: k8s-role == 'node'
    destination:
      ports: [https]
"""
    files = local_mode_repo(policy)
    files["cluster/hosts.yaml"] = host_endpoints()
    result = run_files(tmp_path, files)
    assert structural(result) == []
    assert unreplayed(result) == []
    got = semantic(result)
    assert [g for g in got if g.startswith("CA405")], got
    assert {g.split()[0] for g in got} == {"CA405"}, got


def test_local_mode_defect_policy_on_cluster_ip_service(tmp_path: Path) -> None:
    """externalTrafficPolicy: Local on a ClusterIP Service without externalIPs: Kubernetes rejects it."""
    files = local_mode_repo(LOCAL_POLICY, service_type="ClusterIP")
    line = line_of(files["apps/checkout.yaml"], "externalTrafficPolicy")
    assert_defect(tmp_path, files, [f"CA105 apps/checkout.yaml:{line} error"])


# ------------------------------------------------------------------------------------------
# Cluster mode building block (the guide's steps 1-5, with the Deny the guide forgets)
# ------------------------------------------------------------------------------------------

API_SERVICE = """\
# Step 1: the cluster IP is pinned so the host policies can name it.
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  clusterIP: 10.96.20.20
  selector:
    app: api
  ports:
  - name: https
    port: 443
    targetPort: 8443
    protocol: TCP
"""

API_PODS = deployment("api", "shop", "      app: api\n", "        - name: https\n          containerPort: 8443\n")

ALLOW_NODES_API = """\
# Step 3: the pods admit the nodes (SNAT source) on the target port.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-nodes-api
spec:
  selector: app == 'api'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [8443]
"""

PARTNER_ALLOW = """\
  - action: Allow
    source:
      nets:
      - 50.60.0.0/16
    destination:
      nets:
      - 10.96.20.20/32
"""


def cluster_mode_repo() -> dict[str, str]:
    return {
        "cluster/bgp.yaml": doc(BGP, POOL),
        "cluster/hosts.yaml": host_endpoints(),
        "cluster/edge.yaml": edge_policies(PARTNER_ALLOW),
        "apps/api.yaml": doc(API_SERVICE, API_PODS, ALLOW_NODES_API),
    }


def test_cluster_mode_baseline_clean(tmp_path: Path) -> None:
    assert_clean(tmp_path, cluster_mode_repo())


# ------------------------------------------------------------------------------------------
# Dual stack
# ------------------------------------------------------------------------------------------

DUAL_BGP = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.0/16
  - cidr: fd00:10:96::/112
"""

DUAL_POOLS = doc(
    POOL,
    """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv6-ippool
spec:
  cidr: fd00:10:244::/64
  blockSize: 122
  vxlanMode: Always
  natOutgoing: false
  nodeSelector: all()
""",
)

DUAL_HOSTS = doc(
    """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels:
    k8s-role: node
spec:
  node: node1
  interfaceName: eth0
  expectedIPs:
  - 10.0.0.11
  - 2001:db8:0:1::11
""",
    """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node2-eth0
  labels:
    k8s-role: node
spec:
  node: node2
  interfaceName: eth0
  expectedIPs:
  - 10.0.0.12
  - 2001:db8:0:1::12
""",
)

DUAL_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIP: 10.96.20.20
  clusterIPs:
  - 10.96.20.20
  - fd00:10:96::20
  selector:
    app: api
  ports:
  - name: https
    port: 443
    targetPort: 8443
    protocol: TCP
"""

DUAL_ALLOW = """\
  - action: Allow
    source:
      nets:
      - 50.60.0.0/16
    destination:
      nets:
      - 10.96.20.20/32
  - action: Allow
    source:
      nets:
      - 2001:db8:50::/48
    destination:
      nets:
      - fd00:10:96::20/128  # IPv6 cluster IP
"""

DUAL_HOST_TRAFFIC = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-host-icmpv6
spec:
  selector: k8s-role == 'node'
  order: 300
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: ICMPv6
"""


def dual_stack_repo(deny_nets: str = "      - 10.96.0.0/16\n      - fd00:10:96::/112\n") -> dict[str, str]:
    # A Deny rule may not mix families: one rule per family.
    edge = edge_policies(
        DUAL_ALLOW,
        deny_nets="      - 10.96.0.0/16\n",
        pod_cidrs="      - 10.244.0.0/16\n  - action: Allow\n    destination:\n      nets:\n      - fd00:10:244::/64\n",
    )
    if "fd00:10:96::/112" in deny_nets:
        edge = edge.replace(
            "      - 10.96.0.0/16\n---",
            "      - 10.96.0.0/16\n  - action: Deny\n    destination:\n      nets:\n      - fd00:10:96::/112\n---",
        )
    return {
        "cluster/bgp.yaml": doc(DUAL_BGP, DUAL_POOLS),
        "cluster/hosts.yaml": DUAL_HOSTS,
        "cluster/edge.yaml": doc(edge, DUAL_HOST_TRAFFIC),
        "apps/api.yaml": doc(DUAL_SERVICE, API_PODS, ALLOW_NODES_API),
    }


def test_dual_stack_clean(tmp_path: Path) -> None:
    files = dual_stack_repo()
    assert "fd00:10:96::/112" in files["cluster/edge.yaml"]
    assert_clean(tmp_path, files)


def test_dual_stack_defect_ipv6_cluster_ip_not_denied(tmp_path: Path) -> None:
    """The Deny names only the IPv4 Service range: every IPv6 source reaches the IPv6 cluster IP."""
    files = dual_stack_repo(deny_nets="      - 10.96.0.0/16\n")
    assert "fd00:10:96::/112" not in files["cluster/edge.yaml"]
    line = line_of(files["cluster/edge.yaml"], "fd00:10:96::20/128")  # the rule's cluster-IP destination
    assert_defect(tmp_path, files, [f"CA207 cluster/edge.yaml:{line} error"])


def test_dual_stack_clean_without_ipv6_pod_allow(tmp_path: Path) -> None:
    """allow-to-pods names only the IPv4 pool: with VXLAN (Always) and nothing denying the IPv6 pod CIDR,
    pod traffic is not hurt, so this is still a clean setup."""
    files = dual_stack_repo()
    files["cluster/edge.yaml"] = files["cluster/edge.yaml"].replace(
        "  - action: Allow\n    destination:\n      nets:\n      - fd00:10:244::/64\n", ""
    )
    result = audit_repo(tmp_path, files)
    # With vxlanMode Always, pod-to-pod traffic never crosses eth0 bare, and nothing denies the IPv6
    # pod CIDR: this is not a defect (a clean variant), no finding expected.
    assert semantic(result) == []


# ------------------------------------------------------------------------------------------
# Tiers (order, Pass rules, defaultAction Pass)
# ------------------------------------------------------------------------------------------

SECURITY_TIER = """\
# The security team's tier runs first; whatever it does not decide passes on to the next tier.
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
  defaultAction: Pass
---
# Known abusers are dropped at the edge before any allow-list.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.block-abusers
spec:
  tier: security
  selector: k8s-role == 'node'
  order: 10
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Deny
    source:
      nets:
      - 192.0.2.0/24
"""

APPS_TIER = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: apps
spec:
  order: 500
---
# The app team's tier: quarantined pods are refused, everything else goes on to the default tier.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: apps.api-guard
spec:
  tier: apps
  selector: app == 'api'
  order: 10
  types: [Ingress]
  ingress:
  - action: Deny
    source:
      selector: quarantine == 'true'
  - action: Pass
"""


def tiers_repo(apps_tier: str = APPS_TIER) -> dict[str, str]:
    files = cluster_mode_repo()
    files["cluster/tiers.yaml"] = doc(SECURITY_TIER, apps_tier)
    return files


def test_tiers_clean(tmp_path: Path) -> None:
    assert_clean(tmp_path, tiers_repo())


def test_tiers_defect_apps_tier_without_pass(tmp_path: Path) -> None:
    """The app tier admits only the frontend and has no Pass: the SNAT'd outside traffic (from the
    nodes) is dropped at the end of the apps tier and never reaches allow-nodes-api in the default tier."""
    apps = APPS_TIER.replace(
        "  - action: Deny\n    source:\n      selector: quarantine == 'true'\n  - action: Pass\n",
        "  - action: Allow\n    protocol: TCP\n    source:\n      selector: app == 'frontend'\n"
        "    destination:\n      ports: [8443]\n",
    )
    files = tiers_repo(apps)
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    # The nodes' allow (guide step 3) never decides: the pods do not admit the nodes.
    assert {g.split()[0] for g in got} == {"CA402"}, got


def test_tiers_defect_earlier_tier_denies_all_cluster_ips(tmp_path: Path) -> None:
    """The security tier denies the whole Service range before the default tier's allow-list runs:
    the partner allow rule never decides (CA208) — the partners are cut off."""
    security = SECURITY_TIER.replace(
        "      - 192.0.2.0/24\n",
        "      - 192.0.2.0/24\n  - action: Deny\n"
        "    destination:\n      nets:\n      - 10.96.0.0/16  # whole Service range\n",
    )
    files = cluster_mode_repo()
    files["cluster/tiers.yaml"] = doc(security)
    result = audit_repo(tmp_path, files)
    line = line_of(files["cluster/edge.yaml"], "10.96.20.20/32")
    got = semantic(result)
    assert [g for g in got if g.startswith("CA208")], got
    assert {g.split()[0] for g in got} == {"CA208"}, got
    assert any(f"cluster/edge.yaml:{line - 6}" in g or f"cluster/edge.yaml:{line}" in g for g in got), got


# ------------------------------------------------------------------------------------------
# Kubernetes NetworkPolicy (ipBlock, namespaceSelector, ports by name)
# ------------------------------------------------------------------------------------------

K8S_NP = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: checkout-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: checkout
  policyTypes:
  - Ingress
  ingress:
  - from:
    - ipBlock:
        cidr: 203.0.113.0/24
        except:
        - 203.0.113.128/25
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: frontend
    ports:
    - protocol: TCP
      port: https
"""


def test_k8s_networkpolicy_clean_local_mode(tmp_path: Path) -> None:
    assert_clean(tmp_path, local_mode_repo(K8S_NP))


def test_k8s_networkpolicy_defect_service_port(tmp_path: Path) -> None:
    """The NetworkPolicy names the Service port 443; after DNAT the pods receive 8443."""
    policy = K8S_NP.replace("      port: https\n", "      port: 443  # the Service port\n")
    files = local_mode_repo(policy)
    line = line_of(files["apps/checkout-policy.yaml"], "port: 443")
    assert_defect(tmp_path, files, [f"CA403 apps/checkout-policy.yaml:{line} error"])


def test_k8s_networkpolicy_defect_no_outside_clients(tmp_path: Path) -> None:
    """Local mode, but the NetworkPolicy admits only the frontend namespace: every outside client dropped."""
    policy = K8S_NP.replace(
        "    - ipBlock:\n        cidr: 203.0.113.0/24\n        except:\n        - 203.0.113.128/25\n", ""
    )
    files = local_mode_repo(policy)
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    assert {g.split()[0] for g in got} == {"CA405"}, got
    assert all(g.startswith("CA405 apps/") for g in got), got


# ------------------------------------------------------------------------------------------
# Named ports
# ------------------------------------------------------------------------------------------

NAMED_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  clusterIP: 10.96.30.30
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: web-http
  - name: grpc
    port: 9000
    targetPort: grpc
"""

NAMED_PODS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: registry.example.com/web:3.1
        ports:
        - name: web-http
          containerPort: 8080
        - name: grpc
          containerPort: 9090
      - name: metrics-sidecar
        image: registry.example.com/exporter:0.9
        ports:
        - name: metrics
          containerPort: 9102
"""

NAMED_POD_POLICY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-nodes-web
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [web-http, grpc]
"""

NAMED_ALLOW = """\
  - action: Allow
    protocol: TCP
    source:
      nets:
      - 50.60.0.0/16
    destination:
      nets:
      - 10.96.30.30/32
      ports: [80, 9000]
"""


def named_ports_repo(pod_policy: str = NAMED_POD_POLICY) -> dict[str, str]:
    return {
        "cluster/bgp.yaml": doc(BGP, POOL),
        "cluster/hosts.yaml": host_endpoints(),
        "cluster/edge.yaml": edge_policies(NAMED_ALLOW),
        "apps/web.yaml": doc(NAMED_SERVICE, NAMED_PODS, pod_policy),
    }


def test_named_ports_clean(tmp_path: Path) -> None:
    assert_clean(tmp_path, named_ports_repo())


def test_named_ports_defect_wrong_port_name(tmp_path: Path) -> None:
    """The pods' rule names `http` (the Service port's name), but the container port is `web-http`."""
    files = named_ports_repo(NAMED_POD_POLICY.replace("ports: [web-http, grpc]", "ports: [http, grpc]"))
    line = line_of(files["apps/web.yaml"], "ports: [http, grpc]")
    assert_defect(tmp_path, files, [f"CA403 apps/web.yaml:{line} error"])


def test_named_ports_defect_named_port_with_udp(tmp_path: Path) -> None:
    """A named port only matches a container port of the rule's protocol: `grpc` is TCP, the rule is UDP."""
    policy = NAMED_POD_POLICY.replace("ports: [web-http, grpc]", "ports: [web-http]") + (
        "  - action: Allow\n    protocol: UDP\n    source:\n      selector: k8s-role == 'node'\n"
        "    destination:\n      ports: [grpc]\n"
    )
    files = named_ports_repo(policy)
    # gRPC (TCP 9000 -> 9090) is never admitted for the nodes: the pods do not admit the SNAT source there.
    line = line_of(files["apps/web.yaml"], "  name: allow-nodes-web") + 4  # `ingress:` of the pods' policy
    assert files["apps/web.yaml"].splitlines()[line - 1] == "  ingress:"
    result = assert_defect(tmp_path, files, [f"CA402 apps/web.yaml:{line} error"])
    assert "9090/TCP (targetPort `grpc`)" in next(f.message for f in result.findings if f.rule_id == "CA402")


# ------------------------------------------------------------------------------------------
# Network sets (GlobalNetworkSet / NetworkSet selected by rule selectors)
# ------------------------------------------------------------------------------------------

PARTNER_SET = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: partner-acme
  labels:
    clients: partners
spec:
  nets:
  - 50.60.0.0/16
  - 70.80.90.0/24
"""

SET_ALLOW = """\
  - action: Allow
    source:
      selector: clients == 'partners'
    destination:
      nets:
      - 10.96.20.20/32
"""


def network_set_repo() -> dict[str, str]:
    files = cluster_mode_repo()
    files["cluster/edge.yaml"] = edge_policies(SET_ALLOW)
    files["cluster/networksets.yaml"] = doc(PARTNER_SET)
    return files


def test_network_sets_clean(tmp_path: Path) -> None:
    assert_clean(tmp_path, network_set_repo())


def test_network_sets_defect_no_deny(tmp_path: Path) -> None:
    """The partner allow-list by GlobalNetworkSet, but the Deny of the Service range was dropped."""
    files = network_set_repo()
    text = files["cluster/edge.yaml"]
    start = text.index(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny-service-ips"
    )
    end = text.index("---\n", start)
    files["cluster/edge.yaml"] = text[:start] + text[end + 4 :]
    line = line_of(files["cluster/edge.yaml"], "10.96.20.20/32")
    assert_defect(tmp_path, files, [f"CA207 cluster/edge.yaml:{line} error"])


LOCAL_SET_POLICY = """\
---
# Local mode: the partners' addresses live in a GlobalNetworkSet; a namespaced NetworkPolicy must use
# `namespaceSelector: global()` to reach non-namespaced sets.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: checkout-ingress
  namespace: shop
spec:
  selector: app == 'checkout'
  types:
  - Ingress
  ingress:
  - action: Allow
    protocol: TCP
    source:
      namespaceSelector: global()
      selector: clients == 'partners'
    destination:
      ports: [https]
"""


def test_network_sets_clean_local_mode_global_set(tmp_path: Path) -> None:
    files = local_mode_repo(LOCAL_SET_POLICY)
    files["cluster/networksets.yaml"] = doc(PARTNER_SET)
    assert_clean(tmp_path, files)


def test_network_sets_clean_local_mode_namespaced_set(tmp_path: Path) -> None:
    """A NetworkSet in the policy's own namespace is matched by a plain selector."""
    files = local_mode_repo(LOCAL_SET_POLICY.replace("      namespaceSelector: global()\n", ""))
    files["cluster/networksets.yaml"] = doc(
        PARTNER_SET.replace("kind: GlobalNetworkSet", "kind: NetworkSet").replace(
            "  name: partner-acme\n", "  name: partner-acme\n  namespace: shop\n"
        )
    )
    assert_clean(tmp_path, files)


def test_network_sets_defect_namespaced_policy_cannot_see_global_set(tmp_path: Path) -> None:
    """Without `namespaceSelector: global()`, a NetworkPolicy's selector is scoped to its namespace
    (calico-facts 2.4): the GlobalNetworkSet never matches, so no partner reaches the local-mode pods."""
    files = local_mode_repo(LOCAL_SET_POLICY.replace("      namespaceSelector: global()\n", ""))
    files["cluster/networksets.yaml"] = doc(PARTNER_SET)
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    assert {g.split()[0] for g in got} == {"CA405"}, got
    assert all(" apps/checkout" in g for g in got), got


# ------------------------------------------------------------------------------------------
# Automatic host endpoints (kube-controllers creates `<node>-auto-hep` from Node objects)
# ------------------------------------------------------------------------------------------

KCC = """\
apiVersion: projectcalico.org/v3
kind: KubeControllersConfiguration
metadata:
  name: default
spec:
  controllers:
    node:
      syncLabels: Enabled
      hostEndpoint:
        autoCreate: Enabled
"""


def node(name: str, address: str, labels: str = "    k8s-role: node\n") -> str:
    return f"""\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
    kubernetes.io/hostname: {name}
    kubernetes.io/os: linux
{labels}status:
  addresses:
  - type: InternalIP
    address: {address}
  - type: Hostname
    address: {name}
"""


def auto_hep_repo(node3_labels: str = "    k8s-role: node\n") -> dict[str, str]:
    files = cluster_mode_repo()
    del files["cluster/hosts.yaml"]
    files["cluster/kube-controllers.yaml"] = doc(KCC)
    files["cluster/nodes.yaml"] = doc(
        node("node1", "10.0.0.11"), node("node2", "10.0.0.12"), node("node3", "10.0.0.13", node3_labels)
    )
    return files


def test_auto_host_endpoints_clean(tmp_path: Path) -> None:
    assert_clean(tmp_path, auto_hep_repo())


def test_auto_host_endpoints_defect_unlabelled_node(tmp_path: Path) -> None:
    """A new node joined without `k8s-role: node`: its automatic host endpoint (allow-all profile) is
    selected by no edge policy, so the cluster IPs are open to everyone through node3, and the pods do
    not admit node3 as an SNAT source either."""
    files = auto_hep_repo(node3_labels="    node-pool: burst\n")
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    first = next(n for n, text in enumerate(files["cluster/nodes.yaml"].splitlines(), 1) if "name: node3" in text)
    node3 = f"cluster/nodes.yaml:{first}"
    pods = f"apps/api.yaml:{line_of(files['apps/api.yaml'], 'name: allow-nodes-api') + 4}"
    assert len(got) == 1 and got[0].split()[0] in ("CA301", "CA402"), got
    assert node3 in got[0] or pods in got[0], got


# ------------------------------------------------------------------------------------------
# More combinations
# ------------------------------------------------------------------------------------------


def test_tiers_clean_default_action_pass(tmp_path: Path) -> None:
    """The apps tier admits the frontend only, but its defaultAction Pass hands everything else (the
    SNAT'd outside traffic) to the default tier, where the nodes are allowed."""
    apps = APPS_TIER.replace("  order: 500\n", "  order: 500\n  defaultAction: Pass\n").replace(
        "  - action: Deny\n    source:\n      selector: quarantine == 'true'\n  - action: Pass\n",
        "  - action: Allow\n    protocol: TCP\n    source:\n      selector: app == 'frontend'\n"
        "    destination:\n      ports: [8443]\n",
    )
    assert_clean(tmp_path, tiers_repo(apps))


def test_k8s_networkpolicy_clean_cluster_mode_nodes_by_ipblock(tmp_path: Path) -> None:
    """Cluster mode with a Kubernetes NetworkPolicy: the nodes (SNAT source) admitted by their subnet."""
    files = cluster_mode_repo()
    files["apps/api.yaml"] = doc(
        API_SERVICE,
        API_PODS,
        """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-from-nodes
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 8443
""",
    )
    assert_clean(tmp_path, files)


DUAL_LOCAL_SERVICE_EXTRA = """\
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIPs:
  - 10.96.40.10
  - fd00:10:96::40
"""


def dual_local_repo(policy: str) -> dict[str, str]:
    files = local_mode_repo(policy, extra_service=DUAL_LOCAL_SERVICE_EXTRA)
    files["cluster/bgp.yaml"] = doc(DUAL_BGP, DUAL_POOLS)
    return files


DUAL_LOCAL_POLICY = LOCAL_POLICY.replace(
    "  - action: Allow\n    protocol: TCP\n    source:\n      namespaceSelector",
    "  - action: Allow\n    protocol: TCP\n    source:\n      nets:\n      - 2001:db8:cafe::/48  # IPv6 clients\n"
    "    destination:\n      ports: [https]\n  - action: Allow\n    protocol: TCP\n    source:\n      namespaceSelector",
)


def test_dual_stack_clean_local_mode(tmp_path: Path) -> None:
    assert "2001:db8:cafe::/48" in DUAL_LOCAL_POLICY
    assert_clean(tmp_path, dual_local_repo(DUAL_LOCAL_POLICY))


def test_dual_stack_defect_local_mode_ipv6_clients_blocked(tmp_path: Path) -> None:
    """Dual-stack local-mode Service whose pods admit IPv4 clients only: every IPv6 client is dropped."""
    result = audit_repo(tmp_path, dual_local_repo(LOCAL_POLICY))
    got = semantic(result)
    assert {g.split()[0] for g in got} == {"CA405"}, got


# ------------------------------------------------------------------------------------------
# The words and the witness must say what is true
# ------------------------------------------------------------------------------------------


def test_tiers_redundant_deny_is_described_as_denied(tmp_path: Path) -> None:
    security = SECURITY_TIER.replace(
        "      - 192.0.2.0/24\n",
        "      - 192.0.2.0/24\n  - action: Deny\n"
        "    destination:\n      nets:\n      - 10.96.0.0/16  # whole Service range\n",
    )
    files = cluster_mode_repo()
    files["cluster/tiers.yaml"] = doc(security)
    result = audit_repo(tmp_path, files)
    line = line_of(files["cluster/edge.yaml"], "name: deny-service-ips") + 8  # its `- action: Deny`
    assert files["cluster/edge.yaml"].splitlines()[line - 1] == "  - action: Deny"
    shadowed = [f for f in result.findings if f.rule_id == "CA208" and f.location.span.line == line]
    assert len(shadowed) == 1
    assert "allows" not in shadowed[0].message, shadowed[0].message


def test_k8s_networkpolicy_service_port_witness_uses_the_rules_source(tmp_path: Path) -> None:
    policy = K8S_NP.replace("      port: https\n", "      port: 443  # the Service port\n")
    result = audit_repo(tmp_path, local_mode_repo(policy))
    flows = [
        f.witness
        for f in result.findings
        if f.rule_id == "CA403" and f.witness is not None and "203.0.113.0/24" in f.message
    ]
    assert flows
    allowed_block = ipaddress.ip_network("203.0.113.0/24")
    for w in flows:
        source = ipaddress.ip_network(w.source, strict=False)
        assert source.subnet_of(allowed_block), w.flow_text  # type: ignore[arg-type]


def test_dual_stack_defect_ipv6_anti_spoofing_drops_native_pod_traffic(tmp_path: Path) -> None:
    """The IPv6 pool is natively routed (no VXLAN): an anti-spoofing preDNAT Deny of ULA sources, ordered
    before allow-to-pods, drops IPv6 pod-to-pod traffic between nodes (CA204)."""
    files = dual_stack_repo()
    files["cluster/bgp.yaml"] = files["cluster/bgp.yaml"].replace(
        "  cidr: fd00:10:244::/64\n  blockSize: 122\n  vxlanMode: Always\n",
        "  cidr: fd00:10:244::/64\n  blockSize: 122\n  vxlanMode: Never\n",
    )
    files["cluster/anti-spoofing.yaml"] = doc(
        """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-ula-sources
spec:
  selector: k8s-role == 'node'
  order: 50
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Deny
    source:
      nets:
      - fc00::/7
"""
    )
    line = line_of(files["cluster/anti-spoofing.yaml"], "- action: Deny")
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    assert {g.split()[0] for g in got} == {"CA204"}, got
    assert all(g.startswith("CA204 cluster/anti-spoofing.yaml:") for g in got), got
    assert any(f"anti-spoofing.yaml:{line} " in g or f"anti-spoofing.yaml:{line + 3} " in g for g in got), got


def test_tiers_defect_staged_deny_enforces_nothing(tmp_path: Path) -> None:
    """The Deny of the Service range is only staged (StagedGlobalNetworkPolicy): staged policy never
    enforces, so the partner allow-list denies nobody else (CA207)."""
    files = cluster_mode_repo()
    text = files["cluster/edge.yaml"]
    marker = "kind: GlobalNetworkPolicy\nmetadata:\n  name: deny-service-ips"
    assert marker in text
    files["cluster/edge.yaml"] = text.replace(
        marker, marker.replace("GlobalNetworkPolicy", "StagedGlobalNetworkPolicy")
    )
    line = line_of(files["cluster/edge.yaml"], "10.96.20.20/32")
    assert_defect(tmp_path, files, [f"CA207 cluster/edge.yaml:{line} error"])


def test_tiers_defect_security_tier_drops_local_mode_clients(tmp_path: Path) -> None:
    """Local mode; the security tier (ordered first, no Pass for outside sources) denies every source
    outside the cluster's own ranges before the app's policy in the default tier can admit the clients."""
    files = local_mode_repo(LOCAL_POLICY)
    files["cluster/tiers.yaml"] = doc(
        """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
""",
        """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.pods-internal-only
spec:
  tier: security
  selector: projectcalico.org/namespace == 'shop'
  types: [Ingress]
  ingress:
  - action: Pass
    source:
      nets:
      - 10.0.0.0/8
  - action: Deny
""",
    )
    line = line_of(files["cluster/tiers.yaml"], "  - action: Deny")
    assert_defect(tmp_path, files, [f"CA405 cluster/tiers.yaml:{line} error"])


def test_named_ports_clean_host_endpoint_ports(tmp_path: Path) -> None:
    """Host services allowed by named ports declared on the HostEndpoints (`spec.ports`)."""
    files = cluster_mode_repo()
    hosts = files["cluster/hosts.yaml"]
    for ip in ("10.0.0.11", "10.0.0.12"):
        hosts = hosts.replace(
            f"  - {ip}\n",
            f"  - {ip}\n  ports:\n  - name: kubelet\n    port: 10250\n    protocol: TCP\n"
            "  - name: ssh\n    port: 22\n    protocol: TCP\n",
        )
    files["cluster/hosts.yaml"] = hosts
    edge = files["cluster/edge.yaml"]
    start = edge.index("# Host traffic")
    files["cluster/edge.yaml"] = edge[:start] + (
        """\
# Host traffic by named port: the kubelet and SSH only, and all host egress.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-host-traffic
spec:
  selector: k8s-role == 'node'
  order: 300
  types: [Ingress, Egress]
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [kubelet, ssh]
  - action: Allow
    protocol: ICMP
  egress:
  - action: Allow
"""
    )
    assert_clean(tmp_path, files)


def test_network_sets_clean_blocklist_in_security_tier(tmp_path: Path) -> None:
    """A blocklist GlobalNetworkSet denied at the edge by label, in a tier that passes everything else."""
    files = tiers_repo()
    files["cluster/tiers.yaml"] = files["cluster/tiers.yaml"].replace(
        "    source:\n      nets:\n      - 192.0.2.0/24\n",
        "    source:\n      selector: blocklist == 'abusers'\n",
    )
    files["cluster/networksets.yaml"] = doc(
        """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: abusers
  labels:
    blocklist: abusers
spec:
  nets:
  - 192.0.2.0/24
  - 198.51.100.64/26
"""
    )
    assert_clean(tmp_path, files)


def test_auto_host_endpoints_defect_no_deny(tmp_path: Path) -> None:
    """Automatic host endpoints, partner allow-list, but no Deny: the allow-list restricts nothing."""
    files = auto_hep_repo()
    text = files["cluster/edge.yaml"]
    start = text.index(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny-service-ips"
    )
    end = text.index("---\n", start)
    files["cluster/edge.yaml"] = text[:start] + text[end + 4 :]
    line = line_of(files["cluster/edge.yaml"], "10.96.20.20/32")
    assert_defect(tmp_path, files, [f"CA207 cluster/edge.yaml:{line} error"])


def test_cluster_mode_defect_namespaced_policy_selects_nodes_without_global(tmp_path: Path) -> None:
    """Step 3 as a namespaced NetworkPolicy: `selector: k8s-role == 'node'` in a NetworkPolicy rule only
    matches endpoints of its own namespace, never host endpoints (calico-facts 2.4): the nodes are dropped."""
    files = cluster_mode_repo()
    namespaced = ALLOW_NODES_API.replace("kind: GlobalNetworkPolicy", "kind: NetworkPolicy").replace(
        "  name: allow-nodes-api\n", "  name: allow-nodes-api\n  namespace: shop\n"
    )
    files["apps/api.yaml"] = doc(API_SERVICE, API_PODS, namespaced)
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    assert {g.split()[0] for g in got} == {"CA402"}, got
    assert all(g.startswith("CA402 apps/api.yaml:") for g in got), got
    assert "namespaceSelector: global()" in next(f.fix for f in result.findings if f.rule_id == "CA402")


def test_cluster_mode_clean_namespaced_policy_with_global(tmp_path: Path) -> None:
    files = cluster_mode_repo()
    namespaced = (
        ALLOW_NODES_API.replace("kind: GlobalNetworkPolicy", "kind: NetworkPolicy")
        .replace("  name: allow-nodes-api\n", "  name: allow-nodes-api\n  namespace: shop\n")
        .replace(
            "      selector: k8s-role == 'node'\n",
            "      namespaceSelector: global()\n      selector: k8s-role == 'node'\n",
        )
    )
    files["apps/api.yaml"] = doc(API_SERVICE, API_PODS, namespaced)
    assert_clean(tmp_path, files)


def test_auto_host_endpoints_clean_pods_admit_nodes_by_hostname_label(tmp_path: Path) -> None:
    """Automatic host endpoints carry the Node's labels: `has(kubernetes.io/hostname)` selects every node."""
    files = auto_hep_repo()
    files["apps/api.yaml"] = files["apps/api.yaml"].replace(
        "      selector: k8s-role == 'node'\n", "      selector: has(kubernetes.io/hostname)\n"
    )
    assert_clean(tmp_path, files)


def test_network_sets_clean_namespaced_set_from_global_policy(tmp_path: Path) -> None:
    """A GlobalNetworkPolicy rule selector also matches namespaced NetworkSets (calico-facts 2.4)."""
    files = network_set_repo()
    files["cluster/networksets.yaml"] = doc(
        PARTNER_SET.replace("kind: GlobalNetworkSet", "kind: NetworkSet").replace(
            "  name: partner-acme\n", "  name: partner-acme\n  namespace: partners\n"
        )
    )
    assert_clean(tmp_path, files)


def test_named_ports_clean_numeric_target_named_rule(tmp_path: Path) -> None:
    """The Service's targetPort is a number; the pods' rule names the container port that has it."""
    files = named_ports_repo()
    files["apps/web.yaml"] = files["apps/web.yaml"].replace("    targetPort: web-http\n", "    targetPort: 8080\n")
    assert_clean(tmp_path, files)


def test_local_mode_clean_load_balancer_status_ip(tmp_path: Path) -> None:
    """Local mode with the load-balancer address (inside serviceLoadBalancerIPs) in the Service status."""
    files = local_mode_repo(LOCAL_POLICY)
    files["apps/checkout.yaml"] = files["apps/checkout.yaml"].replace(
        "    protocol: TCP\n---",
        "    protocol: TCP\nstatus:\n  loadBalancer:\n    ingress:\n    - ip: 198.18.0.10\n---",
        1,
    )
    assert "198.18.0.10" in files["apps/checkout.yaml"]
    assert_clean(tmp_path, files)


def test_local_mode_defect_load_balancer_status_ip_clients_blocked(tmp_path: Path) -> None:
    """The same load-balanced local-mode Service, whose pods admit only the frontend namespace."""
    policy = LOCAL_POLICY.replace(
        "  - action: Allow\n    protocol: TCP\n    source:\n      nets:\n      - 203.0.113.0/24\n"
        "      - 198.51.100.0/24\n    destination:\n      ports: [https]\n",
        "",
    )
    files = local_mode_repo(policy)
    files["apps/checkout.yaml"] = files["apps/checkout.yaml"].replace(
        "    protocol: TCP\n---",
        "    protocol: TCP\nstatus:\n  loadBalancer:\n    ingress:\n    - ip: 198.18.0.10\n---",
        1,
    )
    line = line_of(policy, "  ingress:") + 1  # the frontend rule, now the only one
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    assert {g.split()[0] for g in got} == {"CA405"}, got
    assert all(g.startswith("CA405 apps/checkout-policy.yaml:") for g in got), (got, line)


def test_k8s_networkpolicy_clean_port_range_end_port(tmp_path: Path) -> None:
    """Cluster mode, the nodes admitted by a Kubernetes NetworkPolicy port range (`endPort`)."""
    files = cluster_mode_repo()
    files["apps/api.yaml"] = doc(
        API_SERVICE,
        API_PODS,
        """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-from-nodes
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 8000
      endPort: 8999
""",
    )
    assert_clean(tmp_path, files)


DNS_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: resolver
  namespace: shop
spec:
  clusterIP: 10.96.50.53
  selector:
    app: resolver
  ports:
  - name: dns-udp
    port: 53
    protocol: UDP
    targetPort: dns
  - name: dns-tcp
    port: 53
    protocol: TCP
    targetPort: dns-tcp
"""

DNS_PODS = deployment(
    "resolver",
    "shop",
    "      app: resolver\n",
    "        - name: dns\n          containerPort: 5353\n          protocol: UDP\n"
    "        - name: dns-tcp\n          containerPort: 5353\n          protocol: TCP\n",
)

DNS_POLICY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-nodes-resolver
spec:
  selector: app == 'resolver'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: UDP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [dns]
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [dns-tcp]
"""

DNS_ALLOW = """\
  - action: Allow
    source:
      nets:
      - 50.60.0.0/16
    destination:
      nets:
      - 10.96.50.53/32
"""


def test_named_ports_clean_udp_and_tcp_same_number(tmp_path: Path) -> None:
    """A resolver on 5353 over UDP and TCP, each named, each allowed by name with its protocol."""
    files = {
        "cluster/bgp.yaml": doc(BGP, POOL),
        "cluster/hosts.yaml": host_endpoints(),
        "cluster/edge.yaml": edge_policies(DNS_ALLOW),
        "apps/resolver.yaml": doc(DNS_SERVICE, DNS_PODS, DNS_POLICY),
    }
    assert_clean(tmp_path, files)


def test_dual_stack_defect_host_endpoints_without_ipv6_addresses(tmp_path: Path) -> None:
    """Dual stack, cluster mode: the nodes' IPv6 addresses (on the Node objects) are missing from the
    HostEndpoints' expectedIPs, so `source.selector: k8s-role == 'node'` never matches the IPv6 SNAT source
    and IPv6 clients of the Service are dropped at the pods."""
    files = dual_stack_repo()
    files["cluster/hosts.yaml"] = (
        files["cluster/hosts.yaml"].replace("  - 2001:db8:0:1::11\n", "").replace("  - 2001:db8:0:1::12\n", "")
    )
    files["cluster/nodes.yaml"] = doc(
        node("node1", "10.0.0.11").replace(
            "  - type: Hostname", "  - type: InternalIP\n    address: 2001:db8:0:1::11\n  - type: Hostname"
        ),
        node("node2", "10.0.0.12").replace(
            "  - type: Hostname", "  - type: InternalIP\n    address: 2001:db8:0:1::12\n  - type: Hostname"
        ),
    )
    result = audit_repo(tmp_path, files)
    got = semantic(result)
    assert got and {g.split()[0] for g in got} <= {"CA303", "CA402"}, got


def test_local_mode_clean_beside_cluster_mode_edge(tmp_path: Path) -> None:
    """One cluster, both modes: the cluster-mode edge (allow-list + Deny of the Service range) and a
    local-mode Service reached through its load-balancer address, whose pods admit the clients."""
    files = cluster_mode_repo()
    local = local_mode_repo(LOCAL_POLICY)
    files["apps/checkout.yaml"] = local["apps/checkout.yaml"].replace(
        "    protocol: TCP\n---",
        "    protocol: TCP\nstatus:\n  loadBalancer:\n    ingress:\n    - ip: 198.18.0.10\n---",
        1,
    )
    files["apps/checkout-policy.yaml"] = local["apps/checkout-policy.yaml"]
    assert_clean(tmp_path, files)
