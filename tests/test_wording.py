"""The wording helpers rules share (``auditor/wording.py``), and fixes that name what to change.

The shape of every message and fix (one or two sentences, no remedy in the message, one imperative
sentence as the fix) is checked for all rules in ``tests/test_messages.py``.
"""

from __future__ import annotations

from pathlib import Path

from auditor.catalog import all_rules
from auditor.findings import Finding
from auditor.wording import advertised, guide, host_policy_fix, sentence, target_ports
from tests.conftest import run_files

MINE = tuple(r for r in all_rules() if r.id.startswith(("CA3", "CA4")))


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
