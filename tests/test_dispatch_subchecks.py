"""CA004 and CA005 as per-kind sub-checks: sub-IDs in selection, config, suppressions, SARIF and JSON,
crash isolation, fix texts apart from messages, and the node-port range resolved as the cluster facts do."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from auditor import catalog
from auditor.engine import RuleCrash, run_rules, sub_id
from auditor.findings import Severity
from tests.conftest import run_files

# One finding of each of four sub-checks: two of CA004, two of CA005.
MIXED = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  selector: k8s-role == 'node'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      nets: [10.20.30.40/24]
      ports: ["30000-32767"]
---
apiVersion: v1
kind: Service
metadata:
  name: s
  namespace: prod
spec:
  clusterIP: 10.96.0.300
  selector: {app: a}
  ports:
  - {port: 80, nodePort: 30080}
"""
ALL_FOUR = [
    "CA004/policy-rule-nets",
    "CA004/service-addresses",
    "CA005/policy-rule-ports",
    "CA005/service-node-port",
]


def subs(result: object) -> list[str]:
    return sorted(
        sub_id(f)
        for f in result.findings  # type: ignore[attr-defined]
        if f.rule_id in ("CA004", "CA005") and f.suppression is None
    )


def test_every_ca004_and_ca005_finding_names_its_sub_check(tmp_path: Path) -> None:
    assert subs(run_files(tmp_path, {"m.yaml": MIXED})) == ALL_FOUR
    for rule_id in ("CA004", "CA005"):
        rule = catalog.find(rule_id)
        assert rule is not None and rule.check is None and len(rule.sub_checks) >= 7
        assert all(s.id.startswith(rule_id + "/") and s.kinds and s.title for s in rule.sub_checks)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"ignore": ["CA004/policy-rule-nets"]}, [s for s in ALL_FOUR if s != "CA004/policy-rule-nets"]),
        ({"ignore": ["ca005/Service"]}, [s for s in ALL_FOUR if s != "CA005/service-node-port"]),
        ({"ignore": ["CA004/service", "CA005/policy"]}, ["CA004/policy-rule-nets", "CA005/service-node-port"]),
        ({"select": ["CA005/policy-rule-ports"]}, ["CA005/policy-rule-ports"]),
        ({"select": ["CA004/service-addresses", "CA005"]}, ALL_FOUR[1:]),
        ({"per-path-ignores": {"m.yaml": ["CA004/service-addresses"]}}, [s for s in ALL_FOUR if "addresses" not in s]),
    ],
)
def test_sub_ids_in_configuration(tmp_path: Path, settings: dict[str, object], expected: list[str]) -> None:
    assert subs(run_files(tmp_path, {"m.yaml": MIXED}, settings)) == expected


@pytest.mark.parametrize("sub", ["CA004/policy-rule-nets", "CA005/service-node-port", "CA007/policy-rule-action"])
def test_cli_ignore_by_sub_id(tmp_path: Path, sub: str) -> None:
    from auditor.cli import main

    text = MIXED.replace("  - action: Allow", "  - action: allow")  # adds CA007/policy-rule-action
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "out.json"
    code = main([str(tmp_path / "m.yaml"), "--isolated", "--format", "json", "-o", str(out), "--ignore", sub])
    found = sorted(f["sub_id"] for f in json.loads(out.read_text(encoding="utf-8"))["findings"] if "sub_id" in f)
    assert code == 1
    assert found == sorted({*ALL_FOUR, "CA007/policy-rule-action"} - {sub})
    selected = tmp_path / "sel.json"
    main([str(tmp_path / "m.yaml"), "--isolated", "--format", "json", "-o", str(selected), "--select", sub])
    rows = json.loads(selected.read_text(encoding="utf-8"))["findings"]
    assert [r.get("sub_id") for r in rows] == [sub]


@pytest.mark.parametrize(
    ("line", "comment", "left"),
    [
        ("      nets: [10.20.30.40/24]", "ignore[CA004/policy-rule-nets] reviewed", ALL_FOUR[1:]),
        ("      nets: [10.20.30.40/24]", "ignore[CA004/policy] every policy sub-check", ALL_FOUR[1:]),
        ("      nets: [10.20.30.40/24]", "ignore[CA004/service-addresses] not this one", ALL_FOUR),
        ('      ports: ["30000-32767"]', "ignore[CA005/policy-rule-ports] reviewed", [ALL_FOUR[i] for i in (0, 1, 3)]),
        ('      ports: ["30000-32767"]', "ignore[CA005] the whole rule", [ALL_FOUR[i] for i in (0, 1, 3)]),
    ],
)
def test_inline_suppressions_with_sub_ids(tmp_path: Path, line: str, comment: str, left: list[str]) -> None:
    assert line in MIXED
    text = MIXED.replace(line, f"{line}  # calico-audit: {comment}")
    result = run_files(tmp_path, {"m.yaml": text})
    assert subs(result) == left
    suppressed = [sub_id(f) for f in result.findings if f.suppression is not None]
    assert sorted(suppressed) == sorted(set(ALL_FOUR) - set(left))


def test_sarif_lists_ca004_and_ca005_sub_checks(tmp_path: Path) -> None:
    from auditor.report import sarif

    run = sarif.build(run_files(tmp_path, {"m.yaml": MIXED}))["runs"][0]
    results = [r for r in run["results"] if r["ruleId"] in ("CA004", "CA005")]
    assert sorted(r["properties"]["subId"] for r in results) == ALL_FOUR
    for rule_id in ("CA004", "CA005"):
        descriptor = next(d for d in run["tool"]["driver"]["rules"] if d["id"] == rule_id)
        listed = [s["id"] for s in descriptor["properties"]["calicoAudit/subChecks"]]
        rule = catalog.find(rule_id)
        assert rule is not None and listed == [s.id for s in rule.sub_checks]


@pytest.mark.parametrize("broken_id", ["CA004/policy-rule-nets", "CA005/service-node-port-range"])
def test_a_crashing_sub_check_reports_only_itself(tmp_path: Path, broken_id: str) -> None:
    result = run_files(tmp_path, {"m.yaml": MIXED}, {"cluster": {"node-port-range": "30000:30999"}})
    rule = catalog.find(broken_id.partition("/")[0])
    assert rule is not None and result.context is not None

    def boom(*args: object) -> list[object]:
        raise ValueError("synthetic failure")

    broken = replace(rule, sub_checks=tuple(replace(s, check=boom) if s.id == broken_id else s for s in rule.sub_checks))
    findings = run_rules(result.context, [broken])
    crashes = [f for f in findings if f.internal_error]
    assert [sub_id(f) for f in crashes] == [broken_id]
    assert f"sub-check {broken_id}" in crashes[0].message
    others = sorted(sub_id(f) for f in findings if not f.internal_error)
    assert others == [s for s in ALL_FOUR if s.startswith(rule.id) and s != broken_id]
    with pytest.raises(RuleCrash):
        run_rules(result.context, [broken], debug=True)


def test_messages_say_what_and_why_and_the_fix_is_apart(tmp_path: Path) -> None:
    result = run_files(tmp_path, {"m.yaml": MIXED})
    by_sub = {sub_id(f): f for f in result.findings if f.rule_id in ("CA004", "CA005")}
    nets = by_sub["CA004/policy-rule-nets"]
    assert nets.message == "`10.20.30.40/24` has host bits set: Calico rejects rule nets that are not strictly masked"
    assert nets.fix == "Write `10.20.30.0/24` (or `10.20.30.40/32` for one address)."
    ports = by_sub["CA005/policy-rule-ports"]
    assert "uses a dash" in ports.message and "30000:32767" not in ports.message
    assert ports.fix == 'Write the range with a colon: `"30000:32767"`.'
    for finding in by_sub.values():
        assert finding.fix and finding.fix[0].isupper() and finding.fix.endswith(".")
        assert "; write" not in finding.message.lower() and finding.fix not in finding.message


def test_every_ca004_ca005_ca007_finding_of_the_examples_has_a_fix_apart() -> None:
    from auditor.config import from_mapping
    from auditor.run import audit

    root = Path(__file__).resolve().parent.parent
    import os

    old = os.getcwd()
    os.chdir(root)
    try:
        result = audit(["examples"], from_mapping({}))
    finally:
        os.chdir(old)
    found = [f for f in result.findings if f.rule_id in ("CA004", "CA005", "CA007")]
    assert {f.rule_id for f in found} == {"CA004", "CA005", "CA007"}
    for f in found:
        assert f.fix, f.message
        assert "; write " not in f.message and "; use " not in f.message and "; set " not in f.message, f.message


# --- the node-port range: the cluster facts' precedence (FelixConfiguration default, then configuration) ---

FELIX_AND_SERVICE = """\
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  kubeNodePortRanges: ["31000:31999"]
---
apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  type: NodePort
  selector: {app: a}
  ports:
  - {port: 80, nodePort: 30080}
  - {port: 81, nodePort: 31080}
"""


def _node_port_findings(tmp_path: Path, text: str, settings: dict[str, object]) -> list[tuple[int, Severity, str]]:
    result = run_files(tmp_path, {"m.yaml": text}, settings)
    return [
        (f.location.span.line, f.severity, f.message)
        for f in result.findings
        if sub_id(f) == "CA005/service-node-port-range"
    ]


def test_node_port_range_felix_default_wins_over_configuration(tmp_path: Path) -> None:
    from auditor.config import from_mapping
    from auditor.facts import cluster_facts

    settings: dict[str, object] = {"cluster": {"node-port-range": "30000:30999"}}
    result = run_files(tmp_path, {"m.yaml": FELIX_AND_SERVICE}, settings)
    assert result.context is not None
    facts = cluster_facts(result.context.model, from_mapping(settings))
    assert facts.node_port.origin == "repo" and 31080 in facts.node_ports and 30080 not in facts.node_ports
    got = _node_port_findings(tmp_path, FELIX_AND_SERVICE, settings)
    # Held to the FelixConfiguration's range (as the packet path is), not the configured one.
    assert [(line, sev) for line, sev, _ in got] == [(16, Severity.WARNING)]
    assert "FelixConfiguration `default`" in got[0][2]


def test_node_port_range_from_configuration_without_felix(tmp_path: Path) -> None:
    text = FELIX_AND_SERVICE.split("---\n", 1)[1]
    got = _node_port_findings(tmp_path, text, {"cluster": {"node-port-range": "30000:30999"}})
    assert [(line, sev) for line, sev, _ in got] == [(10, Severity.ERROR)]
    assert "`cluster.node-port-range`" in got[0][2]
    assert _node_port_findings(tmp_path, text, {}) == []  # the default range is assumed, not declared


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        ("action `allow` is wrong: Calico rejects it; write `Allow`", "action `allow` is wrong: Calico rejects it",
         "Write `Allow`."),
        ("a; b: Calico rejects it; set one of them to `Never`", "a; b: Calico rejects it", "Set one of them to `Never`."),
        ("x `1`; Calico rejects it", "x `1`; Calico rejects it", ""),  # no imperative: all message
        ("no remedy here", "no remedy here", ""),
        ("y; to police traffic to a Service, select its pods", "y", "To police traffic to a Service, select its pods."),
    ],
)
def test_ca007_remedy_split(text: str, message: str, fix: str) -> None:
    from auditor.rules._ca007_common import split_remedy

    assert split_remedy(text) == (message, fix)


def test_ca007_network_errors_word_their_fix_apart(tmp_path: Path) -> None:
    text = (
        "apiVersion: projectcalico.org/v3\nkind: IPReservation\nmetadata:\n  name: r\nspec:\n"
        "  reservedCIDRs: [garbage]\n---\n"
        "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n"
        "  prefixAdvertisements:\n  - cidr: 10.0.0.1/8\n    communities: ['100:200']\n"
    )
    result = run_files(tmp_path, {"m.yaml": text})
    got = {sub_id(f): (f.message, f.fix) for f in result.findings if f.rule_id == "CA007"}
    assert got["CA007/bgpconfiguration-prefix-advertisements"] == (
        "prefixAdvertisements cidr: '10.0.0.1/8' has host bits set; Calico rejects it",
        "Write `10.0.0.0/8`.",
    )
    message, fix = got["CA007/ipreservation-cidrs"]
    assert "'garbage' is not an IP network" in message and fix == ""
