"""Every semantic claim is one the packet path shows: witnesses, their replay, and the precision cases.

A semantic finding (CA1xx-CA4xx) that claims exposure or intent without effect carries the flow that
shows it (``Finding.witness``); a shadowed rule carries the packet the earlier rule decides. Here every
flow witness is replayed through a fresh evaluator, exactly as ``audit trace`` does, on the rule
examples, ``examples/`` and the real corpus one project at a time, and the verdict must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import catalog
from auditor.config import from_mapping
from auditor.packet.questions import Questions
from auditor.report import sarif
from auditor.run import AuditResult, audit
from tests.conftest import ROOT, SHARED, run_files

# Rules whose findings claim a flow (exposure, or intent without effect): each must carry a witness.
FLOW_RULES = {"CA101", "CA103", "CA204", "CA205", "CA207", "CA402", "CA403", "CA404", "CA405"}
CORPUS = SHARED / "corpus" / "real"


def replay_all(result: AuditResult) -> list[str]:
    """Replay every flow witness of ``result`` through a fresh evaluator; the disagreements."""
    runs = result.clusters or []
    problems = []
    for f in result.findings:
        w = f.witness
        advertised_route = f.field_path.startswith("spec.serviceClusterIPs")  # CA101 on the BGP entry: no flow
        if f.rule_id in FLOW_RULES and f.severity.label != "note" and not advertised_route and w is None:
            problems.append(f"{f.rule_id} at {f.location} has no witness")
            continue
        if w is None:
            continue
        assert w.steps, f"{f.rule_id} at {f.location}: a witness without steps"
        if w.kind != "flow":
            decisive = [s for s in w.steps if s.outcome in ("allow", "deny")]
            assert decisive, f"{f.rule_id} at {f.location}: a chain witness with no deciding step"
            assert (decisive[-1].outcome == "allow") == w.allowed
            continue
        cluster = getattr(f, "cluster", "") or ""
        model = next((r.model for r in runs if r.name == cluster), result.model)
        agrees = Questions(model, result.config).replay(w)
        if not agrees:
            problems.append(f"{f.rule_id} at {f.location}: `{w.command}` does not say {w.verdict_text}")
    return problems


# ------------------------------------------------------------------------------------------
# Replay on every source of findings
# ------------------------------------------------------------------------------------------


def test_rule_examples_witnesses_replay(tmp_path: Path) -> None:
    checked = 0
    for rule in catalog.all_rules():
        for n, example in enumerate(rule.examples):
            result = run_files(tmp_path / f"{rule.id}-{n}", example.files, example.config)
            assert replay_all(result) == []
            checked += sum(1 for f in result.findings if f.witness is not None)
    assert checked >= 20


def test_examples_witnesses_replay() -> None:
    result = audit([str(ROOT / "examples")], from_mapping({}), debug=True)
    assert replay_all(result) == []
    witnessed = {f.rule_id for f in result.findings if f.witness is not None}
    assert FLOW_RULES - {"CA101"} <= witnessed | {"CA404"}  # every variant's flow claim is witnessed


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the real corpus is not beside the project")
def test_real_corpus_witnesses_replay_per_project() -> None:
    projects = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    problems = []
    for project in projects:
        result = audit([str(project)], from_mapping({}), debug=True)
        problems += replay_all(result)
    assert problems == []


def test_a_wrong_claim_does_not_replay(tmp_path: Path) -> None:
    """The replay can fail: the same witness with the opposite verdict is refused."""
    from dataclasses import replace

    rule = catalog.find("CA207")
    assert rule is not None
    example = next(e for e in rule.examples if e.failing)
    result = run_files(tmp_path, example.files, example.config)
    f = next(f for f in result.findings if f.rule_id == "CA207")
    assert f.witness is not None and f.witness.kind == "flow"
    assert Questions(result.model, result.config).replay(f.witness) is True
    assert Questions(result.model, result.config).replay(replace(f.witness, allowed=not f.witness.allowed)) is False


def test_witness_in_sarif_json_and_console(tmp_path: Path) -> None:
    result = audit([str(ROOT / "examples")], from_mapping({}))
    log = json.loads(sarif.render(result))
    flows = [r for run in log["runs"] for r in run["results"] if r.get("codeFlows")]
    assert flows, "no codeFlows in the SARIF of examples/"
    for r in flows:
        steps = r["codeFlows"][0]["threadFlows"][0]["locations"]
        assert steps and all("physicalLocation" in s["location"] for s in steps)
        assert r["properties"]["witness"]["verdict"] in ("allowed", "denied")
    out = subprocess.run(
        [sys.executable, "-m", "auditor", str(ROOT / "examples" / "variants" / "ca207-allow-list-without-deny.yaml"),
         str(ROOT / "examples" / "cluster"), str(ROOT / "examples" / "cluster-mode"), "--format", "json"],
        capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    data = json.loads(out.stdout)
    witness = next(f["witness"] for f in data["findings"] if f["rule"] == "CA207")
    assert witness["command"].startswith("audit trace --from ")
    console = subprocess.run(
        [sys.executable, "-m", "auditor", str(ROOT / "examples" / "variants" / "ca207-allow-list-without-deny.yaml"),
         str(ROOT / "examples" / "cluster"), str(ROOT / "examples" / "cluster-mode")],
        capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert "= trace: audit trace --from" in console.stdout
    # The printed command is the trace that shows the verdict.
    command = witness["command"].split()[2:]
    traced = subprocess.run(
        [sys.executable, "-m", "auditor", "trace", *command, str(ROOT / "examples" / "variants"
         / "ca207-allow-list-without-deny.yaml"), str(ROOT / "examples" / "cluster"), str(ROOT / "examples" / "cluster-mode")],
        capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert traced.returncode == 0, traced.stderr
    assert "ALLOWED" in traced.stdout


# ------------------------------------------------------------------------------------------
# The precision cases (issue: semantic precision), one repository each
# ------------------------------------------------------------------------------------------

A = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {serviceClusterIPs: [{cidr: 10.96.0.0/12}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {k8s-role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [10.0.0.11]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-allow}
spec:
  selector: k8s-role == 'node'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [22, 10250]}}]
  egress: [{action: Allow}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]
"""


def rules_of(result: AuditResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in result.findings:
        assert not f.internal_error, f.message
        out.setdefault(f.rule_id, []).append(f"{f.location.span.line}:{f.location.span.column}:{f.severity.label}")
    return out


def test_a_internal_service_behind_pod_policy_is_not_exposed(tmp_path: Path) -> None:
    result = run_files(tmp_path, {"a.yaml": A})
    assert "CA101" not in rules_of(result)
    pinned = A.replace("spec: {selector: {app: db}, ports", "spec: {selector: {app: db}, clusterIP: 10.96.5.5, ports")
    result = run_files(tmp_path / "pinned", {"a.yaml": pinned})
    assert not {"CA101", "CA402"} & set(rules_of(result))


def test_a_exposed_when_the_pods_admit_the_nodes(tmp_path: Path) -> None:
    """The same Service with pods open to everyone: the auto-assigned address is reachable, and CA101 says so."""
    open_pods = A.replace("ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]",
                          "ingress: [{}]")
    result = run_files(tmp_path, {"a.yaml": open_pods})
    findings = [f for f in result.findings if f.rule_id == "CA101"]
    assert len(findings) == 1 and findings[0].witness is not None and findings[0].witness.allowed
    assert findings[0].witness.service == "shop/db"
    assert "--service shop/db" in findings[0].witness.command


B = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pods}
spec: {cidr: 10.244.0.0/16, vxlanMode: Always}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: gw1-wg0, labels: {role: vpn}}
spec: {node: gw1, interfaceName: wg0, expectedIPs: [10.4.0.1]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: vpn-clients}
spec:
  selector: role == 'vpn'
  applyOnForward: true
  types: [Ingress]
  ingress:
  - {action: Allow, source: {nets: [10.5.0.0/24]}, destination: {selector: "app == 'grafana'"}}
  - {action: Deny}
"""

B2 = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pods}
spec: {cidr: 10.244.0.0/16, vxlanMode: Always}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {k8s-role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [10.0.0.11]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-fwd}
spec:
  selector: k8s-role == 'node'
  applyOnForward: true
  ingress:
  - {action: Allow, protocol: TCP, destination: {ports: [22, 10250]}}
  egress: [{action: Allow}]
"""


def test_b_vpn_interface_and_encapsulated_pods_are_not_pod_traffic(tmp_path: Path) -> None:
    assert "CA204" not in rules_of(run_files(tmp_path / "b", {"b.yaml": B}))
    assert "CA204" not in rules_of(run_files(tmp_path / "b2", {"b.yaml": B2}))
    routed = run_files(tmp_path / "b3", {"b.yaml": B2.replace("vxlanMode: Always", "vxlanMode: Never")})
    found = [f for f in routed.findings if f.rule_id == "CA204"]
    assert len(found) == 1 and found[0].witness is not None and not found[0].witness.allowed
    assert "unencapsulated" in found[0].message
    cross = run_files(tmp_path / "b4", {"b.yaml": B2.replace("vxlanMode: Always", "vxlanMode: CrossSubnet")})
    assert "CrossSubnet" in next(f.message for f in cross.findings if f.rule_id == "CA204")


def test_b_prednat_allow_of_the_pod_cidr_skips_forward_policy(tmp_path: Path) -> None:
    """Packets accepted by a pre-DNAT Allow carry the accept mark: forward policy does not drop them."""
    text = B2.replace("vxlanMode: Always", "vxlanMode: Never") + """\
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-to-pods}
spec:
  selector: k8s-role == 'node'
  order: 10
  preDNAT: true
  applyOnForward: true
  ingress: [{action: Allow, destination: {nets: [10.244.0.0/16]}}]
"""
    assert "CA204" not in rules_of(run_files(tmp_path, {"b.yaml": text}))


C = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {k8s-role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [10.0.0.11]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-allow-all}
spec:
  selector: k8s-role == 'node'
  order: 500
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: nodeport-allow-list}
spec:
  selector: k8s-role == 'node'
  order: 10
  preDNAT: true
  applyOnForward: true
  ingress:
  - {action: Allow, protocol: TCP, source: {nets: [50.60.0.0/16]}, destination: {ports: [30080]}}
  - {action: Deny, protocol: TCP, destination: {ports: ["30000:32767"]}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}
"""


def test_c_nodeports_closed_by_a_final_prednat_deny(tmp_path: Path) -> None:
    result = run_files(tmp_path, {"c.yaml": C})
    assert not [f for f in result.findings if f.rule_id == "CA206" and f.severity.label == "error"]
    from auditor.trace import trace_flow

    answer = trace_flow(result.model, result.config, "8.8.8.8", "10.0.0.11:30080/TCP")
    assert answer.summary.startswith("denied")


def test_c_nodeports_opened_by_a_prednat_allow_without_exclusion(tmp_path: Path) -> None:
    """A pre-DNAT allow of all host traffic sees node ports before DNAT: an error, with its witness."""
    text = C.replace(
        "  - {action: Allow, protocol: TCP, source: {nets: [50.60.0.0/16]}, destination: {ports: [30080]}}\n"
        "  - {action: Deny, protocol: TCP, destination: {ports: [\"30000:32767\"]}}\n",
        "  - {action: Allow, protocol: TCP, destination: {selector: \"k8s-role == 'node'\"}}\n",
    )
    result = run_files(tmp_path, {"c.yaml": text})
    found = [f for f in result.findings if f.rule_id == "CA206"]
    assert len(found) == 1 and found[0].severity.label == "error"
    assert found[0].witness is not None and found[0].witness.allowed and found[0].witness.port == 30080


def test_c_normal_host_rule_is_good_practice_in_iptables_and_exposure_in_ipvs(tmp_path: Path) -> None:
    text = C.replace("  - {action: Deny, protocol: TCP, destination: {ports: [\"30000:32767\"]}}\n", "")
    text = text.replace("  ingress: [{action: Allow}]", "  applyOnForward: true\n  ingress: [{action: Allow, protocol: TCP}]")
    iptables = [f for f in run_files(tmp_path / "i", {"c.yaml": text}).findings if f.rule_id == "CA206"]
    assert [f.severity.label for f in iptables] == ["note"]
    assert "Good practice only" in iptables[0].message and "iptables" in iptables[0].message
    ipvs = run_files(tmp_path / "v", {"c.yaml": text}, {"cluster": {"kube-proxy-mode": "ipvs"}})
    found = [f for f in ipvs.findings if f.rule_id == "CA206"]
    assert len(found) == 1 and found[0].severity.label == "error" and found[0].witness is not None
    assert "IPVS" in found[0].message


D = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {host-endpoint: ingress}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [10.0.0.11]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-egress}
spec: {selector: has(host-endpoint), order: 0, egress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: block-metadata}
spec:
  selector: all()
  types: [Egress]
  egress: [{action: Allow, destination: {notNets: [169.254.169.254/32]}}]
"""


def test_d_all_policy_still_decides_for_endpoints_outside_the_repository(tmp_path: Path) -> None:
    assert "CA208" not in rules_of(run_files(tmp_path, {"d.yaml": D}))
    # Within one policy the earlier rule does decide everything: reported, with the deciding packet.
    same = D.replace(
        "egress: [{action: Allow, destination: {notNets: [169.254.169.254/32]}}]",
        "egress: [{action: Allow}, {action: Deny, destination: {nets: [169.254.169.254/32]}}]",
    )
    found = [f for f in run_files(tmp_path / "same", {"d.yaml": same}).findings if f.rule_id == "CA208"]
    assert len(found) == 1 and "never decides" in found[0].message
    assert found[0].witness is not None and found[0].witness.destination == "169.254.169.254"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the real corpus is not beside the project")
def test_ssh_allow_list_restricts_nothing_behind_pass_tiers(tmp_path: Path) -> None:
    project = CORPUS / "tigera-solutions__tigera-eks-workshop"
    files = {p.name: p.read_text(encoding="utf-8") for p in project.glob("*.yaml")}
    files["demo__30-secure-hep__ssh-access.yaml"] = files["demo__30-secure-hep__ssh-access.yaml"].replace(
        "${CLOUD9_IP}", "203.0.113.5/32"
    )
    files["hep.yaml"] = """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ip-10-0-1-10-auto-hep
  labels: {eks.amazonaws.com/nodegroup: ng-1}
spec:
  node: ip-10-0-1-10
  interfaceName: "*"
  expectedIPs: [10.0.1.10]
  profiles: [projectcalico-default-allow]
"""
    result = run_files(tmp_path, files)
    found = [f for f in result.findings if f.rule_id == "CA207" and "ssh-access" in f.message]
    assert len(found) == 1
    w = found[0].witness
    assert w is not None and w.allowed and w.port == 22 and w.destination == "10.0.1.10"
    assert "projectcalico-default-allow" in found[0].message
    assert found[0].location.path.endswith("ssh-access.yaml")


UNPINNED = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {serviceClusterIPs: [{cidr: 10.96.0.0/12}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {k8s-role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [10.0.0.11]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-web}
spec:
  selector: k8s-role == 'node'
  order: 10
  preDNAT: true
  applyOnForward: true
  ingress:
  - {action: Allow, protocol: TCP, source: {nets: [50.60.0.0/16]}, destination: {nets: [10.96.0.50/32], ports: [443]}}
  - {action: Allow, destination: {nets: [192.168.0.0/16]}}
  - {action: Deny, destination: {nets: [10.96.0.0/12]}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 443, targetPort: 8443}]}
"""


def test_allow_for_an_address_no_service_holds_beside_an_unpinned_service(tmp_path: Path) -> None:
    found = [f for f in run_files(tmp_path, {"a.yaml": UNPINNED}).findings if f.rule_id == "CA104"]
    assert len(found) == 1 and "shop/web" in found[0].message
    assert found[0].witness is not None and not found[0].witness.allowed
    pinned = UNPINNED.replace("spec: {selector: {app: web}, ports", "spec: {selector: {app: web}, clusterIP: 10.96.0.50, ports")
    assert "CA104" not in rules_of(run_files(tmp_path / "pinned", {"a.yaml": pinned}))


def test_load_balancer_ip_outside_service_load_balancer_ips(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {serviceLoadBalancerIPs: [{cidr: 198.51.100.0/24}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, loadBalancerIP: 203.0.113.9, selector: {app: web}, ports: [{port: 443}]}
"""
    found = rules_of(run_files(tmp_path, {"a.yaml": text}))
    assert "CA102" in found
    inside = text.replace("203.0.113.9", "198.51.100.9")
    assert "CA102" not in rules_of(run_files(tmp_path / "in", {"a.yaml": inside}))


def test_policy_for_automatic_host_endpoints_that_are_not_created(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: KubeControllersConfiguration
metadata: {name: default}
spec:
  controllers:
    node:
      hostEndpoint:
        autoCreate: Disabled
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: protect-nodes}
spec:
  selector: has(projectcalico.org/created-by)
  preDNAT: true
  applyOnForward: true
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: ["30000:32767"]}}
"""
    found = [f for f in run_files(tmp_path, {"a.yaml": text}).findings if f.rule_id == "CA302"]
    assert len(found) == 1 and "autoCreate" in found[0].message
    enabled = text.replace("autoCreate: Disabled", "autoCreate: Enabled")
    assert "CA302" not in rules_of(run_files(tmp_path / "on", {"a.yaml": enabled}))


def test_identical_duplicates_are_a_note(tmp_path: Path) -> None:
    doc = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: x}\nspec: {nets: [10.0.0.0/8]}\n"
    same = [f for f in run_files(tmp_path / "s", {"a.yaml": doc, "b.yaml": doc}).findings if f.rule_id == "CA006"]
    assert [f.severity.label for f in same] == ["note"] and "identical" in same[0].message
    other = doc.replace("10.0.0.0/8", "172.16.0.0/12")
    diff = [f for f in run_files(tmp_path / "d", {"a.yaml": doc, "b.yaml": other}).findings if f.rule_id == "CA006"]
    assert [f.severity.label for f in diff] == ["warning"]


def test_rules_reach_the_packet_path_only_through_its_questions() -> None:
    import ast

    for path in sorted((ROOT / "rules").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("auditor.packet"):
                assert node.module == "auditor.packet.questions", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Attribute) and node.attr in ("_reach_cache", "memo"):
                raise AssertionError(f"{path.name} reaches into the evaluator's internals ({node.attr})")
