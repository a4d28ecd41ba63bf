"""The bundled examples and the Calico guide's own YAML, audited for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from auditor.catalog import all_rules
from auditor.run import AuditResult, audit
from tests.conftest import ROOT, SHARED, run_files

EXAMPLES = ROOT / "examples"
CLEAN = ["cluster", "cluster-mode", "local-mode"]
GUIDE = SHARED / "design" / "guide-services-cluster-ips.md"


def _audit(paths: list[str]) -> AuditResult:
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        return audit(paths, debug=True)
    finally:
        os.chdir(old)


def test_the_guide_following_cluster_is_clean() -> None:
    result = _audit([f"examples/{d}" for d in CLEAN])
    assert [(f.rule_id, str(f.location)) for f in result.findings] == []
    assert result.stats.resources >= 15


def test_each_variant_shows_exactly_its_rule_and_leaves_the_clean_repo_clean() -> None:
    result = _audit(["examples"])
    by_file: dict[str, set[str]] = defaultdict(set)
    for finding in result.findings:
        by_file[finding.location.path].add(finding.rule_id)
    variants = sorted((EXAMPLES / "variants").glob("ca*.yaml"))
    for variant in variants:
        rule = variant.name.split("-", 1)[0].upper()
        assert by_file.pop(f"examples/variants/{variant.name}", set()) == {rule}, variant.name
    assert dict(by_file) == {}, "findings outside the variants"
    covered = {v.name.split("-", 1)[0].upper() for v in variants}
    missing = {r.id for r in all_rules()} - covered - {"CA008"}
    assert not missing, f"rules without an example variant: {sorted(missing)}"


def test_examples_sarif_passes_github_ingestion_rules(tmp_path: Path) -> None:
    out = tmp_path / "examples.sarif"
    run = subprocess.run([sys.executable, "-m", "auditor", "examples", "--format", "sarif", "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    multitool = Path.home() / ".cache/sarif-tool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
    args = ["--strict"]
    if not multitool.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install the SARIF multitool (.ci/run does it with npm)")
        args.append("--no-multitool")
    env = {**os.environ, "PYTHON": sys.executable}
    check = subprocess.run([str(SHARED / "tools" / "validate-sarif"), *args, str(out)], capture_output=True, text=True,
                           env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 errors, 0 warnings" in check.stdout
    log = json.loads(out.read_text(encoding="utf-8"))
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"CA001", "CA002", "CA207"}


# --- the guide's own YAML ------------------------------------------------------------------


def _guide_blocks() -> list[str]:
    if not GUIDE.exists():
        pytest.skip("../shared/design is not beside the repository")
    return re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


GUIDE_CLUSTER = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.20.0.0/16
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 192.168.0.0/16
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
metadata: {name: svc-a, namespace: default}
spec:
  clusterIP: 10.20.30.40
  selector: {k8s-svc: svc-a}
  ports: [{port: 443, targetPort: 443}]
---
apiVersion: v1
kind: Service
metadata: {name: svc-b, namespace: default}
spec:
  clusterIP: 10.20.30.41
  selector: {k8s-svc: svc-b}
  ports: [{port: 80, targetPort: 80}]
"""


def test_the_guides_yaml_as_written(tmp_path: Path) -> None:
    blocks = _guide_blocks()
    assert len(blocks) == 4
    files = {f"guide-{i}.yaml": block for i, block in enumerate(blocks, 1)}
    result = run_files(tmp_path, {**files, "cluster.yaml": GUIDE_CLUSTER})
    got = defaultdict(list)
    for f in result.findings:
        got[f.rule_id].append(f"{f.location.path}:{f.location.span.line}")
    # Its third example is malformed: the rules land inside `types`.
    assert got["CA002"] == ["guide-3.yaml:10"]
    assert "ingress:" in next(f.message for f in result.findings if f.rule_id == "CA002")
    # Its allow-list has no Deny: every source still reaches both cluster IPs.
    assert sorted(got["CA207"]) == ["guide-1.yaml:19", "guide-1.yaml:27"]


def test_the_guide_fixed_the_way_the_examples_fix_it_is_clean(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "cluster-mode", tmp_path / "cluster-mode")
    shutil.copytree(EXAMPLES / "cluster", tmp_path / "cluster")
    result = run_files(tmp_path, {})
    assert result.findings == []
