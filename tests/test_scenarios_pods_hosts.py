"""End-to-end scenarios for the host-endpoint (CA301-CA303) and service-pod (CA401-CA406) rules.

Each scenario is a small but realistic repository: the clean one follows the guide (``examples/``),
every other one reproduces one pitfall (or a tricky correct setup). Each test asserts exactly which
of these rules fire, and where; every run uses ``debug=True`` so a crashing rule fails the test.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from auditor.run import AuditResult
from tests.conftest import ROOT, run_files

MINE = ("CA301", "CA302", "CA303", "CA401", "CA402", "CA403", "CA404", "CA405", "CA406")
EXAMPLES = ROOT / "examples"
GUIDE_FOLDERS = ("cluster", "cluster-mode", "local-mode")  # the clean repository that follows the guide


def found(result: AuditResult) -> dict[str, list[str]]:
    """Places of this module's rules' findings, by rule."""
    out: dict[str, list[str]] = {}
    for f in result.findings:
        assert not f.internal_error, f.message
        if f.rule_id in MINE:
            out.setdefault(f.rule_id, []).append(f"{f.location.path}:{f.location.span.line}:{f.location.span.column}")
    return {k: sorted(v) for k, v in sorted(out.items())}


def message(result: AuditResult, rule_id: str, index: int = 0) -> str:
    return [f for f in result.findings if f.rule_id == rule_id][index].message


def fix(result: AuditResult, rule_id: str, index: int = 0) -> str:
    """The finding's fix text (shown apart from its message)."""
    return [f for f in result.findings if f.rule_id == rule_id][index].fix


def guide_repo(**replace: tuple[str, str]) -> dict[str, str]:
    """The clean example repository, with ``file=(old, new)`` text edits applied."""
    files: dict[str, str] = {}
    for folder in GUIDE_FOLDERS:
        for path in sorted((EXAMPLES / folder).glob("*.yaml")):
            files[str(path.relative_to(EXAMPLES))] = path.read_text(encoding="utf-8")
    for name, (old, new) in replace.items():
        key = name.replace("__", "/").replace("_", "-") + ".yaml"
        assert old in files[key], (key, old)
        files[key] = files[key].replace(old, new)
    return files


def run(tmp_path: Path, files: Mapping[str, str], settings: Mapping[str, object] | None = None) -> AuditResult:
    return run_files(tmp_path, files, settings)


# ------------------------------------------------------------------------------------------
# The clean repository
# ------------------------------------------------------------------------------------------


def test_examples_folders_together_are_clean_for_these_rules(tmp_path: Path) -> None:
    from auditor.run import audit

    result = audit([str(EXAMPLES / d) for d in GUIDE_FOLDERS], debug=True)
    assert found(result) == {}


def test_guide_repo_copy_is_clean(tmp_path: Path) -> None:
    assert found(run(tmp_path, guide_repo())) == {}


# ------------------------------------------------------------------------------------------
# Cluster mode pitfalls
# ------------------------------------------------------------------------------------------


def test_step3_as_written_names_the_service_ports(tmp_path: Path) -> None:
    files = guide_repo(cluster_mode__pod_policies=("ports: [8080, 8443]", "ports: [80, 443]"))
    result = run(tmp_path, files)
    assert found(result) == {"CA403": ["cluster-mode/pod-policies.yaml:18:15", "cluster-mode/pod-policies.yaml:18:19"]}
    text = message(result, "CA403")
    assert "8080/TCP (targetPort `http`)" in text and "guide cluster mode, step 3" in fix(result, "CA403")


def test_nodes_allowed_on_another_port_is_ca403_not_ca402(tmp_path: Path) -> None:
    files = guide_repo(cluster_mode__pod_policies=("ports: [9090]", "ports: [9091]"))
    assert found(run(tmp_path, files)) == {"CA403": ["cluster-mode/pod-policies.yaml:34:15"]}


def test_host_endpoints_without_expected_ips(tmp_path: Path) -> None:
    files = guide_repo(
        cluster__hostendpoints=(
            "  expectedIPs:\n  - 10.0.0.11\n  - 192.168.1.1\n",
            "",
        )
    )
    result = run(tmp_path, files)
    # node1 has no addresses: the step-3 selector and the host-traffic rule cannot match it. The pods
    # still admit node2, so CA402 stays quiet; CA303 names the fix.
    assert found(result) == {"CA303": ["cluster/hostendpoints.yaml:10:1"]}
    text = message(result, "CA303")
    assert "allow-nodes-svc-a" in text and "allow-traffic-hostendpoints" in text


def test_all_host_endpoints_without_expected_ips_blame_ca303_only(tmp_path: Path) -> None:
    files = guide_repo()
    text = files["cluster/hostendpoints.yaml"]
    text = text.replace("  expectedIPs:\n  - 10.0.0.11\n  - 192.168.1.1\n", "")
    text = text.replace("  expectedIPs:\n  - 10.0.0.12\n  - 192.168.2.1\n", "")
    files["cluster/hostendpoints.yaml"] = text
    assert found(run(tmp_path, files)) == {
        "CA303": ["cluster/hostendpoints.yaml:10:1", "cluster/hostendpoints.yaml:20:1"]
    }


def test_mislabelled_host_endpoint(tmp_path: Path) -> None:
    files = guide_repo(
        cluster__hostendpoints=(
            "  name: node2-eth0\n  labels:\n    k8s-role: node",
            "  name: node2-eth0\n  labels:\n    role: node",
        )
    )
    result = run(tmp_path, files)
    # The mislabelled host is not admitted by the pods' `k8s-role == 'node'` rule either; CA402 leaves
    # differently labelled hosts to CA301 (one root cause, one finding).
    assert found(result) == {"CA301": ["cluster/hostendpoints.yaml:21:3"]}
    assert "guide cluster mode, step 5" in fix(result, "CA301")


def test_a_differently_labelled_gateway_host_is_not_a_service_node(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster/gateway.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: gateway1-eth1
  labels:
    k8s-role: gateway
spec:
  node: gateway1
  interfaceName: eth1
  expectedIPs: [10.0.1.21]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: gateway-edge
spec:
  selector: k8s-role == 'gateway'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [443]
  egress:
  - action: Allow
"""
    assert found(run(tmp_path, files)) == {}


def test_host_policies_with_a_selector_typo(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster-mode/host-policies.yaml"] = files["cluster-mode/host-policies.yaml"].replace(
        "\n  selector: k8s-role == 'node'", "\n  selector: k8s-role == 'nodes'"
    )
    result = run(tmp_path, files)
    found_ = found(result)
    # Every host policy misses (the last one has no host flag, but its rules name the hosts); no
    # policy shows how hosts are labelled, so CA301 stays quiet.
    assert found_ == {
        "CA302": [
            "cluster-mode/host-policies.yaml:38:13",
            "cluster-mode/host-policies.yaml:57:13",
            "cluster-mode/host-policies.yaml:77:13",
            "cluster-mode/host-policies.yaml:8:13",
        ]
    }
    assert "node1-eth0 {k8s-role=node}" in message(result, "CA302")


def test_host_policy_with_namespace_selector(tmp_path: Path) -> None:
    files = guide_repo(
        cluster_mode__host_policies=(
            "  name: deny-cluster-ips\nspec:\n",
            "  name: deny-cluster-ips\nspec:\n  namespaceSelector: all()\n",
        )
    )
    result = run(tmp_path, files)
    assert found(result) == {"CA302": ["cluster-mode/host-policies.yaml:57:22"]}
    assert "namespaceSelector" in message(result, "CA302")


def test_client_cidrs_on_the_pods_in_cluster_mode(tmp_path: Path) -> None:
    files = guide_repo(
        cluster_mode__pod_policies=(
            "    source:\n      selector: k8s-role == 'node'\n    destination:\n      ports: [8080, 8443]",
            "    source:\n      nets: [50.60.0.0/16]\n    destination:\n      ports: [8080, 8443]",
        )
    )
    result = run(tmp_path, files)
    assert found(result) == {
        "CA402": ["cluster-mode/pod-policies.yaml:12:3"],
        "CA404": ["cluster-mode/pod-policies.yaml:16:14"],
    }
    assert "node1-eth0 10.0.0.11" in message(result, "CA402")
    assert "50.60.0.0/16" in message(result, "CA404")


def test_namespaced_policy_needs_global_namespace_selector_for_nodes(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster-mode/pod-policies.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-nodes-svc-a
  namespace: shop
spec:
  selector: k8s-svc == 'svc-a'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [http, https]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-nodes-svc-b
  namespace: shop
spec:
  selector: k8s-svc == 'svc-b'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
      namespaceSelector: global()
    destination:
      ports: [api]
"""
    result = run(tmp_path, files)
    assert found(result) == {"CA402": ["cluster-mode/pod-policies.yaml:8:3"]}
    assert "namespaceSelector: global()" in fix(result, "CA402")


def test_kubernetes_networkpolicy_ipblock_covering_nodes_is_fine(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster-mode/pod-policies.yaml"] = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: svc-a
  namespace: shop
spec:
  podSelector:
    matchLabels: {k8s-svc: svc-a}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/24}
    - ipBlock: {cidr: 192.168.0.0/16}
    ports:
    - port: http
    - port: 8443
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: svc-b
  namespace: shop
spec:
  podSelector:
    matchLabels: {k8s-svc: svc-b}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/16}
    ports:
    - {port: 9000, endPort: 9999}
"""
    assert found(run(tmp_path, files)) == {}


def test_ipblock_missing_one_node_reports_that_node(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster-mode/pod-policies.yaml"] = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: svc-a
  namespace: shop
spec:
  podSelector:
    matchLabels: {k8s-svc: svc-a}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.11/32}
    - ipBlock: {cidr: 192.168.1.1/32}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: svc-b
  namespace: shop
spec:
  podSelector:
    matchLabels: {k8s-svc: svc-b}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/16}
"""
    result = run(tmp_path, files)
    assert found(result) == {"CA402": ["cluster-mode/pod-policies.yaml:9:3"]}
    text = message(result, "CA402")
    assert "not every node is admitted" in text and "node2-eth0" in text and "ipBlock" in fix(result, "CA402")


def test_deny_rule_before_the_node_allow(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster-mode/deny.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: quarantine
spec:
  order: 10
  selector: k8s-svc == 'svc-b'
  ingress:
  - action: Deny
    source:
      nets: [10.0.0.0/8, 192.168.0.0/16]
"""
    result = run(tmp_path, files)
    assert found(result) == {"CA402": ["cluster-mode/deny.yaml:9:5"]}
    assert "quarantine ingress[0] denies" in message(result, "CA402")


def test_no_node_addresses_in_the_repository(tmp_path: Path) -> None:
    files = guide_repo()
    del files["cluster/hostendpoints.yaml"]
    # The step-3 selector may match host endpoints defined elsewhere: nothing to say.
    assert found(run(tmp_path, files)) == {}
    # A policy that can only ever admit pods: the nodes are dropped whatever their addresses.
    files["cluster-mode/pod-policies.yaml"] = files["cluster-mode/pod-policies.yaml"].replace(
        "      selector: k8s-role == 'node'\n    destination:\n      ports: [9090]",
        "      selector: app == 'gateway'\n      namespaceSelector: all()\n    destination:\n      ports: [9090]",
    )
    result = run(tmp_path / "2", files)
    assert found(result) == {"CA402": ["cluster-mode/pod-policies.yaml:28:3"]}
    assert "no node address" in message(result, "CA402")


def test_automatic_host_endpoints_from_nodes(tmp_path: Path) -> None:
    files = guide_repo()
    del files["cluster/hostendpoints.yaml"]
    files["cluster/nodes.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: KubeControllersConfiguration
metadata:
  name: default
spec:
  controllers:
    node:
      hostEndpoint:
        autoCreate: Enabled
---
apiVersion: v1
kind: Node
metadata:
  name: node1
  labels: {k8s-role: node}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.11}
  - {type: Hostname, address: node1}
---
apiVersion: v1
kind: Node
metadata:
  name: node2
  labels: {k8s-role: node}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.12}
"""
    assert found(run(tmp_path, files)) == {}


# ------------------------------------------------------------------------------------------
# Local mode
# ------------------------------------------------------------------------------------------


def test_local_mode_with_the_cluster_mode_recipe(tmp_path: Path) -> None:
    files = guide_repo(
        local_mode__storefront=(
            "    source:\n      nets:\n      - 198.51.100.0/24",
            "    source:\n      selector: k8s-role == 'node'\n      namespaceSelector: global()",
        )
    )
    result = run(tmp_path, files)
    assert found(result) == {"CA405": ["local-mode/storefront.yaml:54:3"]}
    text = message(result, "CA405")
    assert "admits only the nodes" in text and "local mode, steps 1-2" in fix(result, "CA405")


def test_local_mode_service_port_named_instead_of_target(tmp_path: Path) -> None:
    files = guide_repo(
        local_mode__storefront=(
            "      - 198.51.100.0/24\n    destination:\n      ports: [https]",
            "      - 198.51.100.0/24\n    destination:\n      ports: [443]",
        )
    )
    # The clients are admitted, but on the Service port: CA403, not CA405.
    assert found(run(tmp_path, files)) == {"CA403": ["local-mode/storefront.yaml:61:15"]}


def test_local_mode_client_rule_is_not_ca404(tmp_path: Path) -> None:
    files = guide_repo()
    files["local-mode/extra.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: partner-clients
  namespace: web
spec:
  selector: app == 'storefront'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      nets: [203.0.113.128/25]
    destination:
      ports: [8443]
"""
    assert found(run(tmp_path, files)) == {}


# ------------------------------------------------------------------------------------------
# Service pods and selectors
# ------------------------------------------------------------------------------------------

CANARY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-a-canary
  namespace: shop
spec:
  selector:
    matchLabels: {k8s-svc: svc-a, track: canary}
  template:
    metadata:
      labels: {k8s-svc: svc-a, track: canary}
    spec:
      containers:
      - name: web
        image: "nginx:1.28"
        ports:
        - {name: http, containerPort: 8081}
        - {name: https, containerPort: 8443}
"""


def test_canary_left_out_of_the_node_allow(tmp_path: Path) -> None:
    files = guide_repo(
        cluster_mode__pod_policies=("  selector: k8s-svc == 'svc-a'", "  selector: k8s-svc == 'svc-a' && !has(track)")
    )
    files["cluster-mode/canary.yaml"] = CANARY
    result = run(tmp_path, files)
    # The canary is selected by no policy: it is open, the allow-list does not apply to it.
    assert found(result) == {"CA401": ["cluster-mode/pod-policies.yaml:9:13"]}
    assert "svc-a-canary" in message(result, "CA401")


def test_canary_with_its_own_policy_on_the_named_port(tmp_path: Path) -> None:
    files = guide_repo(
        cluster_mode__pod_policies=("  selector: k8s-svc == 'svc-a'", "  selector: k8s-svc == 'svc-a' && !has(track)")
    )
    files["cluster-mode/canary.yaml"] = (
        CANARY
        + """\
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-nodes-canary
spec:
  selector: track == 'canary'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [http, https]
"""
    )
    assert found(run(tmp_path, files)) == {}


def test_canary_caught_by_a_default_deny(tmp_path: Path) -> None:
    files = guide_repo(
        cluster_mode__pod_policies=("  selector: k8s-svc == 'svc-a'", "  selector: k8s-svc == 'svc-a' && !has(track)")
    )
    files["cluster-mode/canary.yaml"] = (
        CANARY
        + """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
"""
    )
    result = run(tmp_path, files)
    # The canary now drops the SNAT'd node traffic: the partial selection and the dropped nodes.
    assert found(result) == {
        "CA401": ["cluster-mode/pod-policies.yaml:9:13"],
        "CA402": ["cluster-mode/canary.yaml:26:3"],
    }
    assert "are dropped" in message(result, "CA401")


def test_policy_in_the_wrong_namespace(tmp_path: Path) -> None:
    files = guide_repo(
        local_mode__storefront=(
            "  name: allow-storefront-clients\n  namespace: web",
            "  name: allow-storefront-clients\n  namespace: default",
        )
    )
    result = run(tmp_path, files)
    assert found(result) == {"CA406": ["local-mode/storefront.yaml:51:13"]}
    assert "namespace web" in message(result, "CA406")


def test_label_typo_in_a_namespace_the_repository_owns(tmp_path: Path) -> None:
    files = guide_repo(cluster_mode__pod_policies=("  selector: k8s-svc == 'svc-b'", "  selector: k8s-svc == 'svc-c'"))
    result = run(tmp_path, files)
    # svc-b's pods lose their policy (open, not CA402), and the GlobalNetworkPolicy selects nothing.
    assert found(result) == {"CA406": ["cluster-mode/pod-policies.yaml:25:13"]}
    assert "not svc-c" in message(result, "CA406")


def test_same_label_scheme_other_value_in_namespace(tmp_path: Path) -> None:
    files = {
        "app.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: shop
  labels: {app: db}
spec:
  containers: [{name: db, image: postgres}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: cache
  namespace: shop
spec:
  selector: app == 'redis'
  ingress:
  - action: Allow
""",
    }
    result = run(tmp_path, files)
    assert found(result) == {"CA406": ["app.yaml:25:13"]}
    assert "app=db, app=web" in message(result, "CA406")


def test_policy_next_to_a_broken_document_is_not_blamed(tmp_path: Path) -> None:
    files = guide_repo()
    text = files["local-mode/storefront.yaml"]
    files["local-mode/storefront.yaml"] = text.replace("spec:\n  replicas: 2\n", "spec:\n<<<<<<< HEAD\n  replicas: 2\n")
    result = run(tmp_path, files)
    # The Deployment is lost to a merge-conflict marker (CA001): its policy is not reported as selecting nothing.
    assert any(f.rule_id == "CA001" for f in result.findings)
    assert found(result) == {}


def test_pods_listening_on_the_service_port_too(tmp_path: Path) -> None:
    files = guide_repo()
    files["cluster-mode/services.yaml"] = files["cluster-mode/services.yaml"].replace(
        "        - name: https\n          containerPort: 8443\n",
        "        - name: https\n          containerPort: 8443\n        - name: legacy\n          containerPort: 443\n",
    )
    files["cluster-mode/legacy.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: legacy-clients
spec:
  selector: k8s-svc == 'svc-a'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'legacy'
    destination:
      ports: [443]
"""
    # 443 is a port the pods declare: allowing it is not a Service-port mistake.
    assert found(run(tmp_path, files)) == {}


def test_policy_only_repository_is_quiet(tmp_path: Path) -> None:
    files = guide_repo()
    only = {k: v for k, v in files.items() if "policies" in k}
    only["extra.yaml"] = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: storefront
  namespace: web
spec:
  podSelector:
    matchLabels: {app: storefront}
  ingress:
  - from:
    - ipBlock: {cidr: 198.51.100.0/24}
"""
    assert found(run(tmp_path, only)) == {}


def test_host_network_pods_are_host_traffic(tmp_path: Path) -> None:
    files = {
        "ds.yaml": """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-exporter
  namespace: monitoring
spec:
  selector:
    matchLabels: {app: node-exporter}
  template:
    metadata:
      labels: {app: node-exporter}
    spec:
      hostNetwork: true
      containers: [{name: exporter, image: exporter}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: exporter
  namespace: monitoring
spec:
  selector: app == 'node-exporter'
  ingress:
  - action: Allow
""",
    }
    result = run(tmp_path, files)
    assert found(result) == {"CA406": ["ds.yaml:22:13"]}
    assert "hostNetwork" in message(result, "CA406")


# ------------------------------------------------------------------------------------------
# Robustness: odd but loadable input never crashes these rules
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\nspec: {selector: {app: a}}\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.20.0.5, selector: {app: a}, "
        "ports: [{port: 80, targetPort: missing}, {port: x}, {}, 7]}\n---\napiVersion: v1\nkind: Pod\n"
        "metadata: {name: a, labels: {app: a}}\nspec: {containers: [{ports: [{containerPort: http}]}]}\n"
        "---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
        "spec: {selector: app == 'a', ingress: [{action: Allow, source: {nets: [bad]}, destination: {ports: [0, x]}}]}\n",
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: h, labels: [a]}\nspec: 5\n"
        "---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
        "spec: {selector: 'has(', preDNAT: true, applyOnForward: true}\n",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
        "spec: {podSelector: {matchExpressions: [{key: a, operator: Bad}]}, ingress: [{from: [{ipBlock: {}}]}]}\n",
    ],
)
def test_odd_input_does_not_crash(tmp_path: Path, text: str) -> None:
    files = guide_repo()
    files["odd.yaml"] = text
    found(run(tmp_path, files))
