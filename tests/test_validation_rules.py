"""Focused tests for the validation rules CA004 (invalid-cidr), CA005 (invalid-ports), CA007 (rejected-by-calico).

Each test runs the real engine on a small manifest and checks where a rule reports, what it says,
and, just as important, what it leaves alone (valid values and values owned by other rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from auditor.calico_validation import (
    label_key_problem,
    label_value_problem,
    looks_like_placeholder,
    name_problem,
    net_problem,
    port_name_problem,
    protocol_problem,
    suggest_name,
)
from auditor.findings import Severity
from tests.conftest import run_files

GNP_HEAD = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  selector: k8s-role == 'node'
"""


def findings(
    tmp_path: Path, text: str, rule: str, settings: Mapping[str, object] | None = None
) -> list[tuple[str, str]]:
    """``(line:col, text)`` of ``rule``'s findings, in file order; the text is the message and, on a line of
    its own, the fix (``fix: ...``) when the finding has one."""
    result = run_files(tmp_path, {"m.yaml": text}, settings)
    return [
        (f"{f.location.span.line}:{f.location.span.column}", f.message + (f"\nfix: {f.fix}" if f.fix else ""))
        for f in result.findings
        if f.rule_id == rule
    ]


def rule_ids(tmp_path: Path, text: str) -> list[str]:
    result = run_files(tmp_path, {"m.yaml": text})
    return sorted({f.rule_id for f in result.findings})


def gnp(rules: str) -> str:
    return GNP_HEAD + "  ingress:\n" + rules


# ------------------------------------------------------------------------------------------
# Helpers in auditor.calico_validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "strict", "bare", "kind", "fix"),
    [
        ("10.0.0.0/8", True, False, None, ""),
        ("10.0.0.1", True, False, "bare-ip", "10.0.0.1/32"),
        ("10.0.0.1", False, True, None, ""),
        ("10.20.30.40/24", True, False, "host-bits", "10.20.30.0/24"),
        ("10.20.30.40/24", False, False, None, ""),
        ("fd00::1/64", True, False, "host-bits", "fd00::/64"),
        ("10.20.30.40/32  Cluster IP A", True, False, "comment", "10.20.30.40/32"),
        ("10.0.0.0/33", True, False, "invalid", ""),
        ("banana", True, False, "invalid", ""),
    ],
)
def test_net_problem(raw: str, strict: bool, bare: bool, kind: str | None, fix: str) -> None:
    problem = net_problem(raw, strict, bare)
    assert (problem.kind if problem else None) == kind
    if problem and fix:
        assert problem.fix == fix


@pytest.mark.parametrize(
    ("kind", "name", "ok"),
    [
        ("GlobalNetworkPolicy", "allow-cluster-ips", True),
        ("GlobalNetworkPolicy", "security.allow-cluster-ips", True),
        ("GlobalNetworkPolicy", "a.b.c", False),
        ("GlobalNetworkPolicy", "Allow", False),
        ("NetworkPolicy", "knp.default.web.v2", True),
        ("NetworkPolicy", "ossg.default.x", True),
        ("NetworkPolicy", "a.b.c", False),
        ("StagedGlobalNetworkPolicy", "a.b.c", False),
        ("Tier", "security", True),
        ("Tier", "security.prod", False),
        ("Tier", "t" * 64, False),
        ("HostEndpoint", "node1.eth0", True),
        ("HostEndpoint", "node1_eth0", False),
        ("IPPool", "x" * 254, False),
        ("FelixConfiguration", "node.worker-1", True),
    ],
)
def test_name_problem(kind: str, name: str, ok: bool) -> None:
    assert (name_problem(kind, name) is None) == ok


def test_suggest_name_keeps_at_most_the_allowed_dots() -> None:
    assert suggest_name("Allow_Nodes") == "allow-nodes"
    assert suggest_name("a.b.c", dots=1) == "a.b-c"
    assert suggest_name("My.Tier", dots=0) == "my-tier"


def test_label_checks() -> None:
    assert label_key_problem("k8s-role") is None
    assert label_key_problem("projectcalico.org/name") is None
    assert label_key_problem("a/b/c")
    assert label_key_problem("Bad_Prefix/x")
    assert label_key_problem("-x")
    assert label_value_problem("") is None
    assert label_value_problem("node") is None
    assert label_value_problem("a b")
    assert label_value_problem("v" * 64)


def test_protocol_and_port_name_checks() -> None:
    assert protocol_problem("TCP") is None
    assert protocol_problem(6) is None
    assert protocol_problem("17") is None
    assert "`TCP`" in (protocol_problem("tcp") or "")
    assert "`ICMPv6`" in (protocol_problem("icmpv6") or "")
    assert protocol_problem(0)
    assert protocol_problem("256")
    assert protocol_problem("HTTP")
    assert port_name_problem("http") is None
    assert port_name_problem("http_port")
    assert port_name_problem("8080")
    assert port_name_problem("a--b")
    assert port_name_problem("x" * 16)


def test_placeholders() -> None:
    for text in ("<node-name>", "${VM_IP}", "$NODE_NAME", "HOSTIP", "x.x.x.x/16"):
        assert looks_like_placeholder(text), text
    for text in ("10.0.0.1", "node1", "TCP", "a.b.c.d"):
        assert not looks_like_placeholder(text), text


# ------------------------------------------------------------------------------------------
# CA004 invalid-cidr
# ------------------------------------------------------------------------------------------


def test_ca004_bare_address_in_rule_nets(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    destination:\n      nets: [10.20.30.40]\n")
    [(place, message)] = findings(tmp_path, text, "CA004")
    assert place == "10:14"
    assert "no prefix length" in message and "`10.20.30.40/32`" in message


def test_ca004_ipv6_host_bits(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    source:\n      nets: ['fd00::1/64']\n")
    [(_, message)] = findings(tmp_path, text, "CA004")
    assert "`fd00::/64`" in message and "`fd00::1/128`" in message


def test_ca004_ip_version_contradiction(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    ipVersion: 6\n    source:\n      nets: [10.0.0.0/8, 'fd00::/64']\n")
    [(place, message)] = findings(tmp_path, text, "CA004")
    assert place == "11:14" and "ipVersion: 6" in message


def test_ca004_mixed_families_across_source_and_not_nets(tmp_path: Path) -> None:
    text = gnp(
        "  - action: Allow\n    source:\n      notNets: ['fd00::/64']\n    destination:\n      nets: [10.0.0.0/8]\n"
    )
    [(place, message)] = findings(tmp_path, text, "CA004")
    assert place == "12:14" and "mixes IPv4 and IPv6" in message


def test_ca004_catch_all_not_nets_ipv6(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    destination:\n      notNets: ['::/0']\n")
    [(_, message)] = findings(tmp_path, text, "CA004")
    assert "matches" in message or "never match" in message


def test_ca004_catch_all_in_nets_is_fine(tmp_path: Path) -> None:
    text = gnp("  - action: Deny\n    source:\n      nets: [0.0.0.0/0]\n")
    assert findings(tmp_path, text, "CA004") == []


def test_ca004_non_string_nets_are_left_to_the_schema(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    source:\n      nets: [42]\n")
    assert findings(tmp_path, text, "CA004") == []


@pytest.mark.parametrize(
    ("cidr", "reported"),
    [("169.254.0.0/16", True), ("169.0.0.0/8", True), ("fe80::/64", True), ("fd00:10::/48", False)],
)
def test_ca004_ip_pool_link_local(tmp_path: Path, cidr: str, reported: bool) -> None:
    text = f"apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p\nspec:\n  cidr: '{cidr}'\n"
    assert bool(findings(tmp_path, text, "CA004")) == reported


def test_ca004_bgp_bare_address(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceExternalIPs:
  - cidr: 50.60.70.80
"""
    [(place, message)] = findings(tmp_path, text, "CA004")
    assert place == "7:11" and "confd" in message and "`50.60.70.80/32`" in message


def test_ca004_network_set_accepts_addresses_and_loose_cidrs(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: office
spec:
  nets: [50.60.1.7, 50.60.2.9/24, 'not-a-net']
"""
    [(place, _)] = findings(tmp_path, text, "CA004")
    assert place == "6:35"


def test_ca004_ip_block(tmp_path: Path) -> None:
    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
  namespace: prod
spec:
  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 10.1.2.3/16, except: [10.1.0.0/16, 10.1.5.0/24]}
    - ipBlock: {cidr: 10.9.9.9}
"""
    got = findings(tmp_path, text, "CA004")
    assert [p for p, _ in got] == ["10:45", "11:23"]
    assert "strict subset" in got[0][1]
    assert "`10.9.9.9/32`" in got[1][1]


def test_ca004_service_addresses(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  clusterIP: 10.96.0.10/32
  clusterIPs: [10.96.0.11, 10.96.0.12]
  externalIPs: [127.0.0.1, 50.60.70.80]
  ports: [{port: 80}]
"""
    got = findings(tmp_path, text, "CA004")
    messages = " | ".join(m for _, m in got)
    assert [p for p, _ in got] == ["6:14", "7:16", "7:28", "8:17"]
    assert "fix: Write `10.96.0.10`." in messages
    assert "differs from clusterIP" in messages
    assert "two IPv4 addresses" in messages
    assert "loopback" in messages


def test_ca004_expected_ips(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: h
spec:
  node: node1
  expectedIPs: [10.0.0.1/32, node1.example.com]
"""
    assert [p for p, _ in findings(tmp_path, text, "CA004")] == ["7:30"]
    assert [p for p, _ in findings(tmp_path, text, "CA007")] == ["7:17"]


def test_ca004_failsafe_net(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  failsafeInboundHostPorts:
  - {protocol: TCP, port: 22, net: 10.0.0.0/8}
  - {protocol: TCP, port: 22, net: office}
"""
    assert [p for p, _ in findings(tmp_path, text, "CA004")] == ["8:36"]


# ------------------------------------------------------------------------------------------
# CA005 invalid-ports
# ------------------------------------------------------------------------------------------


def test_ca005_named_ports_need_no_protocol(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    destination:\n      ports: [https, http-alt]\n")
    assert findings(tmp_path, text, "CA005") == []


def test_ca005_numeric_string_port_needs_protocol(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    destination:\n      ports: [https, '8443']\n")
    [(place, message)] = findings(tmp_path, text, "CA005")
    assert place == "10:22" and "`protocol: TCP`" in message


def test_ca005_not_protocol_does_not_count(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    notProtocol: UDP\n    source:\n      notPorts: [53]\n")
    assert [p for p, _ in findings(tmp_path, text, "CA005")] == ["11:18"]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("0", "outside 1-65535"),
        ("65536", "outside 1-65535"),
        ("'0:1024'", '"1:1024"'),
        ("'2000:1000'", "reversed"),
        ("'30000-32767'", '"30000:32767"'),
        ("http_port", "port name"),
        ("'HTTP'", "port name"),
    ],
)
def test_ca005_port_syntax(tmp_path: Path, value: str, needle: str) -> None:
    text = gnp(f"  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [{value}]\n")
    [(place, message)] = findings(tmp_path, text, "CA005")
    assert place == "11:15" and needle in message


def test_ca005_misspelt_protocol_is_ca007_only(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    protocol: tcp\n    destination:\n      ports: [443]\n")
    assert findings(tmp_path, text, "CA005") == []
    assert [p for p, _ in findings(tmp_path, text, "CA007")] == ["9:15"]


def test_ca005_named_port_on_icmp_rule(tmp_path: Path) -> None:
    text = gnp("  - action: Allow\n    protocol: ICMPv6\n    destination:\n      ports: [ping]\n")
    [(_, message)] = findings(tmp_path, text, "CA005")
    assert "ICMPv6" in message


def test_ca005_kubernetes_network_policy_ports(tmp_path: Path) -> None:
    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
  namespace: prod
spec:
  podSelector: {}
  ingress:
  - ports:
    - {port: "8080"}
    - {port: http, endPort: 90}
    - {endPort: 90}
    - {port: 30000, endPort: 32767}
    - {port: 0}
"""
    got = findings(tmp_path, text, "CA005")
    assert [p for p, _ in got] == ["10:14", "11:29", "12:17", "14:14"]
    assert "quoted number" in got[0][1]


def test_ca005_service_ports(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  selector: {app: a}
  ports:
  - {port: 80, targetPort: 0, nodePort: 30080}
  - {name: b, port: 70000, targetPort: http_alt}
"""
    got = findings(tmp_path, text, "CA005")
    assert [p for p, _ in got] == ["8:41", "9:21", "9:40"]
    assert "ClusterIP" in got[0][1]


def test_ca005_node_port_range_from_felix_is_a_warning(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  kubeNodePortRanges: ["30000:30999"]
---
apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  type: LoadBalancer
  selector: {app: a}
  ports:
  - {port: 80, nodePort: 31080}
  - {port: 81, nodePort: 30081}
"""
    result = run_files(tmp_path, {"m.yaml": text})
    got = [f for f in result.findings if f.rule_id == "CA005"]
    assert [(f.location.span.line, f.severity) for f in got] == [(16, Severity.WARNING)]


def test_ca005_no_range_declared_no_range_check(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n"
        "  type: NodePort\n  ports:\n  - {port: 80, nodePort: 40000}\n"
    )
    assert findings(tmp_path, text, "CA005") == []


def test_ca005_felix_node_port_ranges_and_failsafe(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  kubeNodePortRanges: ["30000-32767", nodeports]
  failsafeInboundHostPorts:
  - {protocol: TCP, port: 70000}
"""
    got = findings(tmp_path, text, "CA005")
    assert [p for p, _ in got] == ["6:24", "6:39", "8:27"]
    assert "named ports" in got[1][1]


def test_ca005_host_endpoint_ports(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: h
spec:
  node: node1
  interfaceName: eth0
  ports:
  - {name: admin_port, protocol: TCP, port: 0}
  - {name: ping, protocol: ICMP, port: 7}
"""
    assert [p for p, _ in findings(tmp_path, text, "CA005")] == ["9:12", "9:45", "10:28"]


# ------------------------------------------------------------------------------------------
# CA007 rejected-by-calico
# ------------------------------------------------------------------------------------------


def test_ca007_action_synonym_and_protocol_numbers(tmp_path: Path) -> None:
    text = gnp("  - action: drop\n    protocol: 0\n  - action: Pass\n    notProtocol: '256'\n")
    got = findings(tmp_path, text, "CA007")
    assert [p for p, _ in got] == ["8:13", "9:15", "11:18"]
    assert "fix: Write `Deny`." in got[0][1]


def test_ca007_missing_action_is_a_schema_error_only(tmp_path: Path) -> None:
    text = gnp("  - protocol: TCP\n")
    assert findings(tmp_path, text, "CA007") == []
    assert "CA002" in rule_ids(tmp_path, text)


def test_ca007_labels(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: h
  labels:
    k8s-role: node
    bad key: x
    zone: "eu west"
spec:
  node: node1
  interfaceName: eth0
"""
    assert [p for p, _ in findings(tmp_path, text, "CA007")] == ["7:5", "8:11"]


def test_ca007_network_set_namespace_label(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata:
  name: office
  namespace: prod
  labels: {projectcalico.org/namespace: prod}
spec:
  nets: [50.60.0.0/16]
"""
    [(place, _)] = findings(tmp_path, text, "CA007")
    assert place == "6:12"


def test_ca007_global_selector_forms(tmp_path: Path) -> None:
    text = gnp(
        "  - action: Allow\n    source:\n      namespaceSelector: 'global( )'\n"
        "  - action: Allow\n    source:\n      selector: global()\n"
        "  - action: Allow\n    destination:\n      namespaceSelector: (global())\n"
    )
    assert [p for p, _ in findings(tmp_path, text, "CA007")] == ["13:17", "16:26"]


def test_ca007_services_misuse(tmp_path: Path) -> None:
    text = gnp(
        "  - action: Allow\n    source:\n      services: {name: svc-a}\n"
        "  - action: Allow\n    destination:\n      services: {name: svc-a, namespace: prod}\n"
    ) + ("  egress:\n  - action: Allow\n    destination:\n      services: {namespace: prod}\n      ports: [443]\n")
    got = findings(tmp_path, text, "CA007")
    messages = " | ".join(m for _, m in got)
    assert [p for p, _ in got] == ["10:7", "13:7", "17:7", "18:7"]
    assert "without `namespace`" in messages
    assert "ingress rule's destination" in messages
    assert "without `name`" in messages
    assert "with `ports`" in messages


def test_ca007_http_misuse(tmp_path: Path) -> None:
    text = (
        gnp("  - action: Deny\n    protocol: UDP\n    http: {methods: [GET, GET], paths: [{exact: api}]}\n")
        + "  egress:\n  - action: Allow\n    http: {methods: [GET]}\n"
    )
    got = findings(tmp_path, text, "CA007")
    assert [p for p, _ in got] == ["9:15", "10:5", "10:27", "10:41", "13:5"]


def test_ca007_icmp_rules(tmp_path: Path) -> None:
    text = gnp(
        "  - action: Allow\n    protocol: ICMP\n    ipVersion: 6\n    icmp: {code: 0}\n"
        "  - action: Allow\n    protocol: 1\n    icmp: {type: 8}\n"
        "  - action: Allow\n    icmp: {type: 8}\n"
    )
    got = findings(tmp_path, text, "CA007")
    assert [p for p, _ in got] == ["10:16", "11:12", "16:5"]


def test_ca007_host_endpoint_fields(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: h1
spec:
  node: ""
  interfaceName: a-very-long-interface
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: h2
spec:
  interfaceName: "*"
"""
    assert [p for p, _ in findings(tmp_path, text, "CA007")] == ["6:3", "7:18", "13:1"]


def test_ca007_ip_pools(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: v6
spec:
  cidr: fd00:10::/64
  ipipMode: Always
  blockSize: 112
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: small
spec:
  cidr: 10.0.0.0/28
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: small-disabled
spec:
  cidr: 10.0.1.0/28
  disabled: true
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: lb
spec:
  cidr: 10.0.2.0/24
  allowedUses: [LoadBalancer, Workload]
  nodeSelector: global()
"""
    got = findings(tmp_path, text, "CA007")
    assert [p for p, _ in got] == ["7:13", "8:14", "15:9", "31:31", "32:17"]


def test_ca007_reserved_tiers(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: default
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: kube-admin
spec:
  order: 1000
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
  defaultAction: Pass
"""
    got = findings(tmp_path, text, "CA007")
    assert [p for p, _ in got] == ["6:10", "12:1"]
    assert "defaultAction: Pass" in got[1][1]


def test_ca007_staged_delete(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata:
  name: security.old
spec:
  tier: security
  stagedAction: Delete
  selector: all()
  ingress: []
"""
    assert [p for p, _ in findings(tmp_path, text, "CA007")] == ["8:3"]


def test_ca007_bgp_configuration_names(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: node.worker-1
spec:
  listenPort: 179
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: bgp
spec: {}
"""
    result = run_files(tmp_path, {"m.yaml": text})
    got = [f for f in result.findings if f.rule_id == "CA007"]
    assert [(f.location.span.line, f.severity) for f in got] == [(11, Severity.WARNING)]


def test_ca007_leaves_kubernetes_objects_alone(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Service
metadata:
  name: Web_Service
  labels: {"bad key": x}
spec:
  ports: [{port: 80}]
"""
    assert findings(tmp_path, text, "CA007") == []


# ------------------------------------------------------------------------------------------
# CA007 sub-checks: stable sub-IDs, selection, suppression, reports, crash isolation
# ------------------------------------------------------------------------------------------

POOL_AND_POLICY = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool
spec:
  cidr: 10.0.0.0/16
  blockSize: 40
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  selector: k8s-role == 'node'
  ingress:
  - action: allow
"""


def ca007_subs(result: object) -> list[str]:
    from auditor.engine import sub_id

    return sorted(sub_id(f) for f in result.findings if f.rule_id == "CA007" and f.suppression is None)  # type: ignore[attr-defined]


def test_every_ca007_finding_names_its_sub_check(tmp_path: Path) -> None:
    result = run_files(tmp_path, {"m.yaml": POOL_AND_POLICY})
    assert ca007_subs(result) == ["CA007/ippool-block-size", "CA007/policy-rule-action"]
    rule = next(r for r in result.rules if r.id == "CA007")
    assert len(rule.sub_checks) >= 26
    assert all(s.id.startswith("CA007/") and s.kinds and s.title for s in rule.sub_checks)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"ignore": ["CA007/ippool-block-size"]}, ["CA007/policy-rule-action"]),
        ({"ignore": ["ca007/IPPool-Block-Size"]}, ["CA007/policy-rule-action"]),
        ({"ignore": ["CA007/ippool"]}, ["CA007/policy-rule-action"]),  # a kind's sub-checks by prefix
        ({"ignore": ["CA007/policy"]}, ["CA007/ippool-block-size"]),
        ({"select": ["CA007/policy-rule-action"]}, ["CA007/policy-rule-action"]),
        ({"select": ["CA00"], "ignore": ["CA007/policy-rule-action", "CA007/ippool-block-size"]}, []),
        ({"ignore": ["CA007"]}, []),
        ({"per-path-ignores": {"m.yaml": ["CA007/policy-rule-action"]}}, ["CA007/ippool-block-size"]),
        ({"per-path-ignores": {"m.yaml": ["CA007"]}}, []),
    ],
)
def test_sub_ids_in_select_ignore_and_per_path_ignores(
    tmp_path: Path, settings: dict[str, object], expected: list[str]
) -> None:
    result = run_files(tmp_path, {"m.yaml": POOL_AND_POLICY}, settings)
    assert ca007_subs(result) == expected
    # Only the ignored sub-check is gone: the other rules still run.
    assert "CA002" not in {f.rule_id for f in result.findings} or "select" in settings


def test_a_rule_with_every_sub_check_ignored_is_not_enabled() -> None:
    from auditor import catalog
    from auditor.config import from_mapping
    from auditor.run import enabled_rules, skipped_sub_checks

    every = [s.id for s in catalog.find("CA007").sub_checks]  # type: ignore[union-attr]
    config = from_mapping({"ignore": every})
    assert "CA007" not in {r.id for r in enabled_rules(config)}
    config = from_mapping({"ignore": ["CA007/tier"]})
    rules = enabled_rules(config)
    assert "CA007" in {r.id for r in rules}
    assert skipped_sub_checks(config, rules) == {"CA007/tier-reserved"}


def test_cli_accepts_known_sub_ids_and_refuses_unknown_ones(tmp_path: Path) -> None:
    from auditor.cli import main

    (tmp_path / "m.yaml").write_text(POOL_AND_POLICY, encoding="utf-8")
    out = tmp_path / "out.json"
    args = ["--isolated", "--ignore", "CA007/ippool-block-size", "--format", "json", "-o", str(out)]
    code = main([str(tmp_path / "m.yaml"), *args])
    import json

    data = json.loads(out.read_text(encoding="utf-8"))
    subs = [f.get("sub_id") for f in data["findings"] if f["rule"] == "CA007"]
    assert subs == ["CA007/policy-rule-action"] and code == 1
    assert main([str(tmp_path / "m.yaml"), "--isolated", "--ignore", "CA007/no-such-check"]) == 2


@pytest.mark.parametrize(
    ("comment", "left", "ca008"),
    [
        ("# calico-audit: ignore[CA007/policy-rule-action] reviewed", [], []),
        ("# calico-audit: ignore[CA007] reviewed", [], []),
        ("# calico-audit: ignore[CA007/policy] every policy sub-check", [], []),
        ("# calico-audit: ignore[CA007/tier-reserved] wrong one", ["CA007/policy-rule-action"], ["unused"]),
        ("# calico-audit: ignore[CA007/ippool-block-size] not run here", ["CA007/policy-rule-action"], []),
        ("# calico-audit: ignore[CA007/no-such-check] typo", ["CA007/policy-rule-action"], ["unknown"]),
    ],
)
def test_suppression_comments_with_sub_ids(tmp_path: Path, comment: str, left: list[str], ca008: list[str]) -> None:
    text = POOL_AND_POLICY.replace("  - action: allow", "  - action: allow  " + comment)
    result = run_files(tmp_path, {"m.yaml": text}, {"ignore": ["CA007/ippool"]})
    assert ca007_subs(result) == left
    problems = [f.message for f in result.findings if f.rule_id == "CA008"]
    assert len(problems) == len(ca008)
    for word, message in zip(ca008, problems, strict=True):
        assert word in message


def test_annotation_suppression_with_a_sub_id(tmp_path: Path) -> None:
    text = POOL_AND_POLICY.replace(
        "  name: pool\n", '  name: pool\n  annotations:\n    calico-audit.io/ignore: "CA007/ippool-block-size: lab pool"\n'
    )
    result = run_files(tmp_path, {"m.yaml": text})
    assert ca007_subs(result) == ["CA007/policy-rule-action"]
    suppressed = [f for f in result.findings if f.suppression is not None]
    assert [f.suppression.justification for f in suppressed] == ["lab pool"]  # type: ignore[union-attr]


def test_baseline_records_the_sub_id_and_matches_by_fingerprint(tmp_path: Path) -> None:
    import json

    from auditor.suppress import write_baseline

    first = run_files(tmp_path, {"m.yaml": POOL_AND_POLICY})
    text = write_baseline(first.findings)
    entries = [e for e in json.loads(text)["findings"] if e["rule"] == "CA007"]
    assert sorted(e["sub"] for e in entries) == ["CA007/ippool-block-size", "CA007/policy-rule-action"]
    (tmp_path / "baseline.json").write_text(text, encoding="utf-8")
    import os

    from auditor.config import from_mapping
    from auditor.run import audit

    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        again = audit(["m.yaml"], from_mapping({}), baseline="baseline.json")
    finally:
        os.chdir(old)
    assert ca007_subs(again) == []


def test_sarif_and_json_carry_the_sub_id(tmp_path: Path) -> None:
    import subprocess

    from auditor.report import jsonfmt, sarif

    result = run_files(tmp_path, {"m.yaml": POOL_AND_POLICY})
    log = sarif.build(result)
    run = log["runs"][0]
    results = [r for r in run["results"] if r["ruleId"] == "CA007"]
    assert sorted(r["properties"]["subId"] for r in results) == ["CA007/ippool-block-size", "CA007/policy-rule-action"]
    descriptor = next(d for d in run["tool"]["driver"]["rules"] if d["id"] == "CA007")
    listed = {s["id"] for s in descriptor["properties"]["calicoAudit/subChecks"]}
    assert {"CA007/ippool-block-size", "CA007/policy-rule-action"} <= listed
    other = next(d for d in run["tool"]["driver"]["rules"] if d["id"] == "CA006")
    assert "calicoAudit/subChecks" not in other["properties"]
    path = tmp_path / "out.sarif"
    path.write_text(sarif.dumps(log), encoding="utf-8")
    tool = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "validate-sarif"
    if tool.exists():
        done = subprocess.run([str(tool), "--strict", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    rows = [jsonfmt.finding(f) for f in result.findings if f.rule_id == "CA007"]
    assert sorted(r["sub_id"] for r in rows) == ["CA007/ippool-block-size", "CA007/policy-rule-action"]
    assert all("sub_id" not in jsonfmt.finding(f) for f in result.findings if f.rule_id != "CA007")


def test_console_shows_the_sub_id(tmp_path: Path) -> None:
    from auditor.report import console

    result = run_files(tmp_path, {"m.yaml": POOL_AND_POLICY})
    text = console.render(result, color=False, width=120)
    assert "CA007/ippool-block-size rejected-by-calico" in text


def test_a_crashing_sub_check_does_not_hide_the_others(tmp_path: Path) -> None:
    from dataclasses import replace

    from auditor import catalog
    from auditor.engine import RuleCrash, run_rules, sub_id

    result = run_files(tmp_path, {"m.yaml": POOL_AND_POLICY})
    rule = catalog.find("CA007")
    assert rule is not None and result.context is not None

    def boom(resource: object) -> list[object]:
        raise ValueError("synthetic failure")

    subs = tuple(replace(s, check=boom) if s.id == "CA007/ippool-block-size" else s for s in rule.sub_checks)
    broken = replace(rule, sub_checks=subs)
    findings = run_rules(result.context, [broken])
    crashes = [f for f in findings if f.internal_error]
    assert [sub_id(f) for f in crashes] == ["CA007/ippool-block-size"]
    assert "sub-check CA007/ippool-block-size" in crashes[0].message and "synthetic failure" in crashes[0].message
    assert [sub_id(f) for f in findings if not f.internal_error] == ["CA007/policy-rule-action"]
    with pytest.raises(RuleCrash):
        run_rules(result.context, [broken], debug=True)


def test_catalog_refuses_malformed_sub_checks() -> None:
    from dataclasses import replace

    from auditor import catalog

    rule = catalog.find("CA007")
    assert rule is not None
    first = rule.sub_checks[0]
    for bad in (
        replace(rule, sub_checks=(replace(first, id="CA007/Upper"),)),
        replace(rule, sub_checks=(replace(first, id="CA008/metadata-name"),)),
        replace(rule, sub_checks=(first, first)),
        replace(rule, sub_checks=(replace(first, kinds=()),)),
    ):
        with pytest.raises(RuntimeError):
            catalog._validate(bad, "ca007_rejected_by_calico")
    catalog._validate(rule, "ca007_rejected_by_calico")


GOLDEN = Path(__file__).resolve().parent / "data" / "ca007_before_split.json"


def _ca007_rows(result: object, base: str, subs: set[str]) -> list[dict[str, object]]:
    import os

    from auditor.engine import sub_id

    rows = []
    for f in result.findings:  # type: ignore[attr-defined]
        if f.rule_id != "CA007" or sub_id(f) not in subs:
            continue
        s = f.location.span
        rows.append(
            {
                "path": os.path.relpath(os.path.abspath(f.location.path), base),
                "span": [s.line, s.column, s.end_line, s.end_column],
                "message": f.message,
                "fix": f.fix,
                "fingerprint": f.fingerprint,
                "severity": f.severity.label,
                "sub": sub_id(f),
                "related": [[str(loc), m] for loc, m in f.related],
            }
        )
    return sorted(rows, key=lambda r: (r["path"], r["span"], r["message"]))  # type: ignore[arg-type, return-value]


def test_ca007_findings_and_fingerprints_unchanged_since_the_single_module_rule(tmp_path: Path) -> None:
    """The sub-checks that existed in the one-module rule find exactly what it found, with its fingerprints."""
    import json
    import os

    from auditor import catalog
    from auditor.config import from_mapping
    from auditor.rules._ca007_common import split_remedy
    from auditor.run import audit

    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    subs = set(golden["sub_checks"])
    # Stored before the fix text left the message: "<what and why>; <remedy>" is now message and fix.
    for rows in golden["findings"].values():
        for row in rows:
            row["message"], row["fix"] = split_remedy(row["message"])
        rows.sort(key=lambda r: (r["path"], r["span"], r["message"]))
    root = Path(__file__).resolve().parent.parent
    old = os.getcwd()
    try:
        os.chdir(root)
        assert _ca007_rows(audit(["examples"], from_mapping({})), str(root), subs) == golden["findings"]["examples"]
        rule = catalog.find("CA007")
        assert rule is not None
        for i, example in enumerate(rule.examples):
            if f"example{i}" not in golden["findings"]:
                continue  # an example added after the split
            folder = tmp_path / f"example{i}"
            folder.mkdir()
            for name, text in example.files.items():
                (folder / name).write_text(text, encoding="utf-8")
            os.chdir(folder)
            got = _ca007_rows(audit(["."], from_mapping(dict(example.config))), str(folder), subs)
            assert got == golden["findings"][f"example{i}"], example.title
    finally:
        os.chdir(old)
    corpus = root.parent / "shared" / "corpus" / "real"
    if corpus.is_dir():
        got = _ca007_rows(audit([str(corpus)], from_mapping({})), str(corpus), subs)
        assert [r for r in golden["findings"]["corpus"] if r not in got] == []
        # Since the golden copy was made, the loader also audits files whose top level is a list of
        # resources (calicoctl applies them): their findings are the only new ones.
        extra = {str(r["path"]) for r in got if r not in golden["findings"]["corpus"]}
        assert all(_top_level_list(corpus / path) for path in extra), extra


def _top_level_list(path: Path) -> bool:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    return any(ln.startswith("- ") for ln in lines) and not lines[0].startswith(("apiVersion", "kind"))


def test_explain_and_docs_list_every_sub_check_with_its_full_id() -> None:
    from auditor import catalog
    from auditor.docs import render_explain, rule_markdown

    rule = catalog.find("CA007")
    assert rule is not None and catalog.find("ca007/IPPool-Block-Size") is rule
    assert catalog.find("CA007/no-such-check") is None
    text = render_explain(rule, color=False, width=100)
    page = rule_markdown(rule)
    for sub in rule.sub_checks:
        assert sub.id in text, sub.id  # never cut, however narrow the terminal
        assert f"| `{sub.id}` |" in page
    plain = catalog.find("CA006")
    assert plain is not None and "Sub-checks" not in rule_markdown(plain)
