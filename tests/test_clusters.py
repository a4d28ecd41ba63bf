"""Several clusters in one repository: ``clusters`` and ``shared`` in the configuration."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from auditor.config import ConfigError, from_mapping
from auditor.context import Context
from auditor.engine import run_rules
from auditor.findings import Finding, Severity
from auditor.model import build_model
from auditor.report import render
from auditor.run import UNSCOPED, AuditResult, audit, cluster_of, enabled_rules
from tests.conftest import ROOT, SHARED
from tests.test_report import VALIDATE_SARIF, run_validate_sarif, schema_errors

EXAMPLES = [ROOT / "examples" / name for name in ("cluster", "cluster-mode", "local-mode")]
CORPUS = SHARED / "corpus" / "real"
SVC_B_IP = "clusterIP: 10.20.30.41"  # examples/cluster-mode/services.yaml; host-policies.yaml allows it


def make_cluster(folder: Path) -> None:
    """A copy of the clean examples (with its own BGPConfiguration default) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES:
        for path in example.glob("*.yaml"):
            shutil.copy(path, folder / path.name)


def make_repo(root: Path, *clusters: str) -> Path:
    for name in clusters:
        make_cluster(root / name)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run_in(root: Path, settings: dict[str, object] | None = None, paths: list[str] | None = None) -> AuditResult:
    old = os.getcwd()
    os.chdir(root)
    try:
        return audit(paths or ["."], from_mapping(settings or {}), debug=True)
    finally:
        os.chdir(old)


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=root, capture_output=True, text=True, env=env)


def where(f: Finding) -> str:
    return f"{f.location.path}:{f.location.span.line}:{f.location.span.column}"


def key(f: Finding) -> tuple[object, ...]:
    """A finding as a user sees it (fingerprints aside)."""
    return (f.rule_id, f.severity, f.location.path, f.location.span, f.message, f.related, f.suppression)


# --- configuration ----------------------------------------------------------------------------


def test_configuration_keys_are_validated_and_shown() -> None:
    config = from_mapping({"clusters": ["clusters/*", "overlays/*"], "shared": ["base/**"]})
    assert config.clusters == ["clusters/*", "overlays/*"] and config.shared == ["base/**"]
    assert config.as_mapping()["clusters"] == ["clusters/*", "overlays/*"]
    assert config.as_mapping()["shared"] == ["base/**"]
    with pytest.raises(ConfigError, match="clusters"):
        from_mapping({"clusters": "clusters/*"})
    with pytest.raises(ConfigError, match="shared"):
        from_mapping({"shared": [""]})


def test_files_are_assigned_to_the_shallowest_matching_folder_shared_first() -> None:
    config = from_mapping({"clusters": ["clusters/*", "overlays/*"], "shared": ["base/**", "clusters/common"]})
    assert cluster_of("clusters/prod/bgp.yaml", config) == "clusters/prod"
    assert cluster_of("clusters/prod/apps/web/svc.yaml", config) == "clusters/prod"
    assert cluster_of("overlays/staging/x.yaml", config) == "overlays/staging"
    assert cluster_of("base/policies/x.yaml", config) == "(shared)"
    assert cluster_of("clusters/common/x.yaml", config) == "(shared)"
    assert cluster_of("clusters/x.yaml", config) is None  # in the clusters folder, in no cluster
    assert cluster_of("other/x.yaml", config) is None
    assert cluster_of("./clusters/a/x.yaml", from_mapping({"clusters": ["./clusters/*/"]})) is None  # paths are clean
    assert cluster_of("clusters/a/x.yaml", from_mapping({"clusters": ["./clusters/*/"]})) == "clusters/a"


# --- two clusters, configured and not --------------------------------------------------------


def test_two_clean_clusters_are_clean_when_configured(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    result = run_in(tmp_path, {"clusters": ["clusters/*"]})
    assert result.findings == []
    assert [run.name for run in result.clusters] == ["clusters/a", "clusters/b"]
    for run in result.clusters:
        assert len(run.model.bgp_configurations) == 1
        assert {f.path.split("/")[1] for f in run.load.files} == {run.name.split("/")[1]}
        assert run.context.model is run.model
    assert result.stats.files == 2 * sum(len(list(e.glob("*.yaml"))) for e in EXAMPLES)


def test_two_clusters_without_configuration_get_one_note_with_the_line_to_add(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    result = run_in(tmp_path)
    ca006 = [f for f in result.findings if f.rule_id == "CA006"]
    assert len(ca006) == 1, [f.message for f in ca006]  # not one per duplicate pair (17 of them)
    (note,) = ca006
    assert note.severity == Severity.NOTE
    assert where(note) == "clusters/b/cluster.yaml:6:9"  # the second BGPConfiguration default
    assert 'clusters = ["clusters/*"]' in note.fix
    assert [loc.path for loc, _ in note.related] == ["clusters/a/cluster.yaml"]
    assert note.cluster == "" and note.clusters == ()
    # Visible in every machine format too.
    data = json.loads(render(result, "json"))
    assert [f["rule"] for f in data["findings"]] == ["CA006"] and data["findings"][0]["cluster"] is None
    (sarif_result,) = json.loads(render(result, "sarif"))["runs"][0]["results"]
    assert sarif_result["level"] == "note" and "several clusters" in sarif_result["message"]["text"]
    assert 'clusters = ["clusters/*"]' in sarif_result["properties"]["fix"]  # the line to add is the fix
    assert 'clusters = ["clusters/*"]' in data["findings"][0]["fix"]
    # The line it gives, added to the configuration, makes the run clean.
    line = re.search(r"`(clusters = \[[^`]*\])`", note.fix)
    assert line is not None
    (tmp_path / "pyproject.toml").write_text(f"[tool.calico-audit]\n{line.group(1)}\n", encoding="utf-8")
    proc = cli(tmp_path, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
    assert json.loads(proc.stdout)["summary"]["clusters"] == ["clusters/a", "clusters/b"]


@pytest.mark.parametrize(
    ("folders", "line"),
    [
        (("overlays/prod", "overlays/staging"), 'clusters = ["overlays/*"]'),
        (("deploy/eu/prod", "deploy/us/prod"), 'clusters = ["deploy/*"]'),
        (("prod", "staging", "dev"), 'clusters = ["*"]'),
    ],
)
def test_the_line_is_computed_from_the_actual_folders(tmp_path: Path, folders: tuple[str, ...], line: str) -> None:
    make_repo(tmp_path, *folders)
    notes = [f for f in run_in(tmp_path).findings if f.rule_id == "CA006"]
    assert len(notes) == 1 and f"`{line}`" in notes[0].fix


def test_kustomize_base_is_suggested_as_shared(tmp_path: Path) -> None:
    make_repo(tmp_path, "overlays/prod", "overlays/staging")
    felix = "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec: {}\n"
    for folder in ("base", "overlays/prod", "overlays/staging"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "felix.yaml").write_text(felix, encoding="utf-8")
    ca006 = [f for f in run_in(tmp_path).findings if f.rule_id == "CA006"]
    (note,) = [f for f in ca006 if f.severity == Severity.NOTE and "identical content" not in f.message]
    assert '`clusters = ["overlays/*"]` and `shared = ["base/**"]`' in note.fix
    assert "FelixConfiguration default too" in note.message
    # Under that configuration base/felix.yaml and an overlay's felix.yaml are one cluster (a kustomize
    # patch, to be rendered before auditing): those pairs stay; the pairs across overlays are gone.
    pairs = sorted((f.location.path, loc.path) for f in ca006 if f is not note for loc, _ in f.related)
    assert pairs == [("overlays/prod/felix.yaml", "base/felix.yaml"), ("overlays/staging/felix.yaml", "base/felix.yaml")]


def test_a_real_duplicate_is_still_a_duplicate(tmp_path: Path) -> None:
    # Two BGPConfiguration default in one folder (or one at the top and one below) are one tree.
    make_repo(tmp_path, "clusters/a")
    shutil.copy(tmp_path / "clusters/a/cluster.yaml", tmp_path / "clusters/a/copy.yaml")
    shutil.copy(tmp_path / "clusters/a/cluster.yaml", tmp_path / "top.yaml")
    findings = [f for f in run_in(tmp_path).findings if f.rule_id == "CA006"]
    # Byte-identical copies: still reported, as a note (one copy is enough).
    assert findings and all(f.severity == Severity.NOTE and "identical content" in f.message for f in findings)
    assert not any("several clusters" in f.message for f in findings)


def test_duplicates_inside_one_cluster_folder_are_still_reported_beside_the_note(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    shutil.copy(tmp_path / "clusters/b/storefront.yaml", tmp_path / "clusters/b/storefront-old.yaml")
    ca006 = [f for f in run_in(tmp_path).findings if f.rule_id == "CA006"]
    notes = [f for f in ca006 if "several clusters" in f.message]
    duplicates = [f for f in ca006 if f not in notes]
    assert len(notes) == 1 and notes[0].severity == Severity.NOTE
    assert all(f.severity == Severity.NOTE and "identical content" in f.message for f in duplicates)
    assert {f.location.path for f in duplicates} == {"clusters/b/storefront.yaml"}  # old.yaml sorts first
    assert all(loc.path == "clusters/b/storefront-old.yaml" for f in duplicates for loc, _ in f.related)


# --- findings per cluster -----------------------------------------------------------------------


def test_a_defect_in_one_cluster_is_reported_once_naming_it(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    edit(tmp_path / "clusters/b/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    result = run_in(tmp_path, {"clusters": ["clusters/*"]})
    assert [(f.rule_id, f.location.path, f.cluster, f.clusters) for f in result.findings] == [
        ("CA104", "clusters/b/host-policies.yaml", "clusters/b", ("clusters/b",))
    ]
    console = render(result, "console", color=False, width=100)
    assert "== cluster clusters/b == (1 problem)" in console and "clusters/a ==" not in console
    (item,) = json.loads(render(result, "json"))["findings"]
    assert item["cluster"] == "clusters/b" and item["clusters"] == ["clusters/b"]
    assert "title=CA104 stale-cluster-ip-rule (cluster clusters/b)::" in render(result, "github")
    assert "| clusters/b | `clusters/b/host-policies.yaml:30` |" in render(result, "markdown")
    # Without clusters the defect is hidden: b's host policy is judged with a's Services too.
    merged = run_in(tmp_path)
    assert not any(f.rule_id == "CA104" for f in merged.findings)


def test_shared_files_are_in_every_cluster_and_their_findings_are_not_repeated(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    (tmp_path / "base").mkdir()
    shutil.move(tmp_path / "clusters/a/host-policies.yaml", tmp_path / "base/host-policies.yaml")
    (tmp_path / "clusters/b/host-policies.yaml").unlink()
    (tmp_path / "base/bad.yaml").write_text(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: bad\n"
        "spec:\n  nets: [10.0.0.0/33]\n",
        encoding="utf-8",
    )
    settings = {"clusters": ["clusters/*"], "shared": ["base/**"]}
    result = run_in(tmp_path, settings)
    for run in result.clusters:
        paths = {f.path for f in run.load.files}
        assert {"base/host-policies.yaml", "base/bad.yaml"} <= paths
        assert any(p.name == "allow-cluster-ips" for p in run.model.policies)
    (bad,) = result.findings  # the same CA004 in both clusters, reported once
    assert (bad.rule_id, bad.location.path, bad.clusters) == ("CA004", "base/bad.yaml", ("clusters/a", "clusters/b"))
    assert "== clusters clusters/a, clusters/b ==" in render(result, "console", color=False, width=100)
    assert json.loads(render(result, "json"))["findings"][0]["clusters"] == ["clusters/a", "clusters/b"]


def test_a_finding_on_a_shared_file_in_one_cluster_only_names_that_cluster(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    (tmp_path / "base").mkdir()
    shutil.move(tmp_path / "clusters/a/host-policies.yaml", tmp_path / "base/host-policies.yaml")
    (tmp_path / "clusters/b/host-policies.yaml").unlink()
    edit(tmp_path / "clusters/b/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    settings = {"clusters": ["clusters/*"], "shared": ["base/**"]}
    (stale,) = run_in(tmp_path, settings).findings
    assert (stale.rule_id, stale.location.path, stale.clusters) == ("CA104", "base/host-policies.yaml", ("clusters/b",))
    # A suppression in the shared file is used by cluster b: it is not "unused" in cluster a.
    edit(tmp_path / "base/host-policies.yaml", "# Cluster IP B", "# calico-audit: ignore[CA104] b moves svc-b")
    result = run_in(tmp_path, settings)
    assert [(f.rule_id, f.cluster, f.suppression is not None) for f in result.findings] == [
        ("CA104", "clusters/b", True)
    ]


def test_files_in_no_cluster_are_audited_as_unscoped(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/stray.yaml").write_text(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: stray\n"
        "spec:\n  nets: [10.0.0.0/33]\n",
        encoding="utf-8",
    )
    (tmp_path / "ci.yaml").write_text("jobs: {}\n", encoding="utf-8")  # not a manifest: no cluster of its own
    result = run_in(tmp_path, {"clusters": ["clusters/*"]})
    assert [run.name for run in result.clusters] == ["clusters/a", UNSCOPED]
    (stray,) = result.findings
    assert (stray.location.path, stray.cluster) == ("policies/stray.yaml", UNSCOPED)
    # No folder matches: everything is unscoped, nothing is dropped.
    nothing = run_in(tmp_path, {"clusters": ["nowhere/*"]})
    assert [run.name for run in nothing.clusters] == [UNSCOPED]
    assert [f.location.path for f in nothing.findings] == ["policies/stray.yaml"]


def test_a_parse_error_in_a_cluster_is_reported_in_that_cluster(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    (tmp_path / "clusters/b/broken.yaml").write_text("kind: [unclosed\n", encoding="utf-8")
    (broken,) = run_in(tmp_path, {"clusters": ["clusters/*"]}).findings
    assert (broken.rule_id, broken.cluster) == ("CA001", "clusters/b")


# --- fingerprints, baseline, pre-commit, SARIF ----------------------------------------------------


def test_fingerprints_include_the_cluster_only_when_clusters_are_configured(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    edit(tmp_path / "clusters/b/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    # Unconfigured, only cluster b's folder: the engine's own fingerprint, as before clusters existed.
    plain = run_in(tmp_path, paths=["clusters/b"])
    config = from_mapping({})
    loaded = plain.load
    ctx = Context(load=loaded, model=build_model(loaded.resources, "default"), config=config)
    engine = run_rules(ctx, [r for r in enabled_rules(config) if not r.late], debug=True)
    assert [f.fingerprint for f in plain.findings] == [f.fingerprint for f in engine if f.rule_id == "CA104"]
    clustered = run_in(tmp_path, {"clusters": ["clusters/*"]})
    assert [f.rule_id for f in clustered.findings] == ["CA104"]
    assert clustered.findings[0].fingerprint != plain.findings[0].fingerprint
    # The same defect in both clusters: two findings, two fingerprints.
    edit(tmp_path / "clusters/a/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    both = run_in(tmp_path, {"clusters": ["clusters/*"]})
    assert [f.cluster for f in both.findings] == ["clusters/a", "clusters/b"]
    assert len({f.fingerprint for f in both.findings}) == 2


def test_baseline_and_pre_commit_work_with_clusters(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    (tmp_path / "pyproject.toml").write_text('[tool.calico-audit]\nclusters = ["clusters/*"]\n', encoding="utf-8")
    edit(tmp_path / "clusters/b/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    assert cli(tmp_path).returncode == 1
    written = cli(tmp_path, "--write-baseline", "baseline.json")
    assert written.returncode == 0 and "wrote 1 finding" in written.stderr
    edit(tmp_path / "clusters/b/host-policies.yaml", "---", "---\n# lines move\n")
    accepted = cli(tmp_path, "--baseline", "baseline.json", "--format", "json")
    assert accepted.returncode == 0, accepted.stdout
    assert [f["suppressed"]["source"] for f in json.loads(accepted.stdout)["findings"]] == ["baseline"]
    # The same defect appearing in cluster a is new.
    edit(tmp_path / "clusters/a/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    new = cli(tmp_path, "--baseline", "baseline.json", "--format", "json")
    assert new.returncode == 1
    assert [f["cluster"] for f in json.loads(new.stdout)["findings"] if f["suppressed"] is None] == ["clusters/a"]
    # pre-commit: the whole configured tree is audited, findings in the changed files reported.
    changed_b = cli(tmp_path, "--pre-commit", "clusters/b/host-policies.yaml", "--format", "json")
    assert changed_b.returncode == 1
    assert [(f["path"], f["cluster"]) for f in json.loads(changed_b.stdout)["findings"]] == [
        ("clusters/b/host-policies.yaml", "clusters/b")
    ]
    elsewhere = cli(tmp_path, "--pre-commit", "clusters/a/storefront.yaml", "--format", "json")
    assert elsewhere.returncode == 0 and json.loads(elsewhere.stdout)["findings"] == []


def test_sarif_with_clusters_validates_and_names_the_cluster(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    edit(tmp_path / "clusters/b/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    (tmp_path / "base").mkdir()
    (tmp_path / "base/bad.yaml").write_text(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: bad\n"
        "spec:\n  nets: [10.0.0.0/33]\n",
        encoding="utf-8",
    )
    result = run_in(tmp_path, {"clusters": ["clusters/*"], "shared": ["base/**"]})
    text = render(result, "sarif")
    log = json.loads(text)
    assert schema_errors(log) == []
    results = log["runs"][0]["results"]
    props = [(r["ruleId"], r["properties"]["calicoAudit/cluster"], r["properties"]["calicoAudit/clusters"]) for r in results]
    assert props == [
        ("CA004", "clusters/a", ["clusters/a", "clusters/b"]),
        ("CA104", "clusters/b", ["clusters/b"]),
    ]
    assert results[1]["message"]["text"].endswith("(cluster clusters/b)")
    fingerprints = [r["partialFingerprints"]["calicoAudit/v1"] for r in results]
    assert fingerprints == [f.fingerprint for f in result.findings]
    again = run_in(tmp_path, {"clusters": ["clusters/*"], "shared": ["base/**"]})
    assert render(again, "sarif") == text  # byte-identical from run to run
    if not VALIDATE_SARIF.exists():
        pytest.skip("shared/tools/validate-sarif is not beside the repository")
    path = tmp_path / "clusters.sarif"
    path.write_text(text, encoding="utf-8")
    proc = run_validate_sarif(path, "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK (0 errors, 0 warnings)" in proc.stdout


# --- the real corpus: one project, one cluster ------------------------------------------------------


def test_the_corpus_with_one_cluster_per_project_gives_exactly_the_per_project_findings() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/real is not beside the repository")
    projects = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    clustered = run_in(CORPUS, {"clusters": ["*"]})
    assert [run.name for run in clustered.clusters] == projects  # no (unscoped): the top holds no manifest
    assert not clustered.internal_errors
    alone: list[Finding] = []
    for project in projects:
        alone += run_in(CORPUS, paths=[project]).findings
    assert Counter(map(key, clustered.findings)) == Counter(map(key, alone))
    assert all(f.cluster == f.location.path.split("/")[0] for f in clustered.findings)
    counts = Counter(f.rule_id for f in clustered.findings)
    assert counts == Counter(f.rule_id for f in alone) and counts["CA006"] >= 1
    # Audited as one tree without configuration, the corpus says once that it holds several clusters.
    merged = run_in(CORPUS)
    notes = [f for f in merged.findings if f.rule_id == "CA006" and "several clusters" in f.message]
    assert len(notes) == 1 and '`clusters = ["*"]`' in notes[0].fix
    duplicates = [f for f in merged.findings if f.rule_id == "CA006" and f not in notes]
    assert len(duplicates) == counts["CA006"]  # only the duplicates inside one project remain


def test_trace_runs_inside_one_cluster(tmp_path: Path) -> None:
    make_repo(tmp_path, "clusters/a", "clusters/b")
    (tmp_path / "pyproject.toml").write_text('[tool.calico-audit]\nclusters = ["clusters/*"]\n', encoding="utf-8")
    edit(tmp_path / "clusters/b/services.yaml", SVC_B_IP, "clusterIP: 10.20.99.41")
    flow = ["trace", "--from", "70.80.90.1", "--to", "10.20.99.41:8080/TCP", "--format", "json"]
    ambiguous = cli(tmp_path, *flow)
    assert ambiguous.returncode == 2 and "pass --cluster NAME; clusters: clusters/a, clusters/b" in ambiguous.stderr
    in_b = cli(tmp_path, *flow, "--cluster", "clusters/b")
    in_a = cli(tmp_path, *flow, "--cluster", "clusters/a")
    assert in_b.returncode == 0, in_b.stderr
    assert "Service shop/svc-b" in in_b.stdout  # b's svc-b has that address; a's has another
    # In a, no Service holds the advertised address: traced as a Service the repository does not show.
    assert in_a.returncode == 0 and "no Service in the repository holds 10.20.99.41" in in_a.stdout
    unknown = cli(tmp_path, *flow, "--cluster", "clusters/c")
    assert unknown.returncode == 2 and "no cluster named 'clusters/c'" in unknown.stderr
