"""CA3xx/CA4xx findings carry their remedy in ``Finding.fix``, apart from the message.

The message says what is wrong and why (one or two sentences, plus the engine's "Assumed: ..." when the
witness rests on what the repository does not say); the fix is one imperative sentence, with the guide
step where the guide has one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from auditor.catalog import Rule, all_rules
from auditor.config import from_mapping
from auditor.findings import Finding
from auditor.run import audit
from auditor.wording import advertised, guide, host_policy_fix, sentence, target_ports
from tests.conftest import run_files

ROOT = Path(__file__).resolve().parent.parent
MINE = tuple(r for r in all_rules() if r.id.startswith(("CA3", "CA4")))
# A sentence ends at ". ", "! " or "? " before a capital, a backtick or a quote ("e.g. Pod web/x" does not).
_BOUNDARY = re.compile(r"(?<!e\.g)(?<!i\.e)[.!?]\s+(?=[A-Z`\"'])")


def sentences(text: str) -> list[str]:
    return [s for s in _BOUNDARY.split(text.strip().rstrip(".")) if s]


def check_finding(finding: Finding) -> None:
    where = f"{finding.rule_id} {finding.location}"
    said = finding.message.split(". Assumed: ")[0]  # the engine appends stated assumptions
    assert not re.search(r"\bFix\b", finding.message), f"{where}: remedy still in the message: {finding.message}"
    assert 1 <= len(sentences(said)) <= 2, f"{where}: message is not one or two sentences: {finding.message}"
    assert not said.endswith("."), f"{where}: messages end without a full stop, like the other rules'"
    assert finding.fix not in finding.message, where
    fix = finding.fix
    assert fix, f"{where}: no fix text"
    assert fix[0].isupper() and fix.endswith(".") and not fix.startswith("Fix"), f"{where}: {fix!r}"
    assert len(sentences(fix)) == 1, f"{where}: fix is not one sentence: {fix}"


@pytest.mark.parametrize("rule", MINE, ids=[r.id for r in MINE])
def test_rule_examples_have_fix_text(rule: Rule, tmp_path: Path) -> None:
    failing = [e for e in rule.examples if e.failing]
    assert failing, rule.id
    seen = 0
    for index, example in enumerate(failing):
        result = run_files(tmp_path / str(index), example.files, example.config)
        for finding in result.findings:
            if finding.rule_id == rule.id:
                check_finding(finding)
                seen += 1
    assert seen >= len(failing)


def test_examples_folder_findings_have_fix_text() -> None:
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        result = audit(["examples"], from_mapping({}))
    finally:
        os.chdir(old)
    mine = [f for f in result.findings if f.rule_id.startswith(("CA3", "CA4"))]
    # examples/ shows every one of these rules at least once
    assert {f.rule_id for f in mine} == {r.id for r in MINE}
    for finding in mine:
        check_finding(finding)


def test_fix_names_what_to_change(tmp_path: Path) -> None:
    """The fix is specific: it names the policy, HostEndpoint or port the finding is about."""
    by_rule: dict[str, list[Finding]] = {}
    for rule in MINE:
        example = next(e for e in rule.examples if e.failing)
        result = run_files(tmp_path / rule.id, example.files, example.config)
        by_rule[rule.id] = [f for f in result.findings if f.rule_id == rule.id]
    ca403 = by_rule["CA403"][0]
    assert ca403.fix.startswith("Name the target port (8080 or `http`) instead of `80`")
    ca303 = by_rule["CA303"][0]
    assert "HostEndpoint node1-eth0" in ca303.fix and "(guide cluster mode, step 5)" in ca303.fix
    ca402 = by_rule["CA402"][0]
    assert "target port 8443" in ca402.fix and "svc-a-from-frontend" in ca402.fix


def test_guide_step_wording() -> None:
    assert guide("cluster", "3") == "(guide cluster mode, step 3)"
    assert guide("local", "1-2") == "(guide local mode, steps 1-2)"
    assert guide("cluster", "2 and 5") == "(guide cluster mode, steps 2 and 5)"


def test_target_ports_wording() -> None:
    assert target_ports([8443]) == "target port 8443"
    assert target_ports([8443, 8080, 8443, None]) == "target ports 8080, 8443"
    assert target_ports([1, 2, 3, 4, 5]) == "target ports 1, 2, 3 and 2 more"


def test_sentence_counting() -> None:
    assert len(sentences("a is wrong: b (e.g. Pod web/x is left out)")) == 1
    assert len(sentences("X selects no pod. `app == 'a'` matches nothing")) == 2
    assert len(sentences("Make it global.")) == 1


def test_advertised_opening() -> None:
    assert advertised("shop/web", "cluster IP 10.20.30.40", "cluster") == (
        "Service shop/web is advertised (cluster IP 10.20.30.40) in cluster mode"
    )


def test_sentence() -> None:
    assert sentence("make it global.") == "Make it global."
    assert sentence("allow `x`") == "Allow `x`."
    assert sentence("") == ""


def test_host_policy_fix_names_the_change(audit_files) -> None:
    result = audit_files(
        {
            "p.yaml": """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: np, namespace: infra}
spec:
  selector: k8s-role == 'node'
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ns-scoped}
spec:
  selector: k8s-role == 'node'
  namespaceSelector: all()
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sa-scoped}
spec:
  selector: k8s-role == 'node'
  serviceAccountSelector: all()
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts}
spec:
  selector: k8s-role == 'node'
"""
        }
    )
    fixes = {p.name: host_policy_fix(p) for p in result.model.policies}
    assert fixes == {
        "np": "make NetworkPolicy infra/np a GlobalNetworkPolicy",
        "ns-scoped": "remove `namespaceSelector` from GlobalNetworkPolicy ns-scoped",
        "sa-scoped": "remove `serviceAccountSelector` from GlobalNetworkPolicy sa-scoped",
        "hosts": "",
    }
