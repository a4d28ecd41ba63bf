"""`audit --fix`, `--diff` and SARIF fixes: every fix removes its finding, touches only its lines, and is idempotent."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import fix
from auditor.catalog import Example, Rule, all_rules
from auditor.cli import main
from auditor.config import from_mapping
from auditor.findings import AutoFix, Edit, Finding, Pointer
from auditor.run import AuditResult, audit
from tests.conftest import ROOT, SHARED

FIXING = [rule for rule in all_rules() if rule.autofix]
CASES = [(rule, ex) for rule in FIXING for ex in rule.examples if ex.failing]
VARIANTS = sorted((ROOT / "examples" / "variants").glob("*.yaml"))


def _audit(folder: Path, settings: dict[str, object] | None = None) -> AuditResult:
    old = os.getcwd()
    os.chdir(folder)
    try:
        return audit(["."], from_mapping(settings or {}), debug=True)
    finally:
        os.chdir(old)


def _texts(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.yaml"))}


def _fixable(result: AuditResult, rule_id: str | None, unsafe: bool) -> list[Finding]:
    return [f for f in result.findings if (rule_id is None or f.rule_id == rule_id) and fix.fixable(f, unsafe)
            and fix.resolve(f.autofix) is not None]  # type: ignore[arg-type]


def _edit_lines(findings: list[Finding], unsafe: bool) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for path, planned in fix.plan(findings, unsafe).items():
        for p in planned:
            for edit in p.edits:
                out.setdefault(path, set()).update(range(edit.start[0], edit.end[0] + 1))
    return out


def _assert_only_edited_lines_changed(before: str, after: str, lines: set[int]) -> None:
    """Every line outside the edited ones is byte-identical and in place; insertions follow an edited line."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            assert set(range(i1 + 1, i2 + 1)) <= lines, (tag, i1, i2, lines)
        elif tag == "insert":
            assert i1 in lines or (i1 + 1) in lines, (i1, lines)
    comments = [line for line in a if line.lstrip().startswith("#")]
    assert comments == [line for line in b if line.lstrip().startswith("#")]


def _check_fix(folder: Path, rule_id: str | None, settings: dict[str, object], unsafe: bool) -> int:
    """Fix ``folder`` in place and check the contract; returns how many findings were fixed."""
    before_result = _audit(folder, settings)
    targets = _fixable(before_result, rule_id, unsafe)
    if not targets:
        return 0
    lines = _edit_lines(before_result.findings, unsafe)
    before = _texts(folder)

    done = fix.run(before_result.findings, unsafe, dry=False, reaudit=lambda: _audit(folder, settings).findings)
    assert not done.skipped, [(f.path, f.error) for f in done.skipped]
    assert done.fixed >= 1
    after = _texts(folder)
    changed = {name for name in before if before[name] != after[name]}
    assert changed, "a fix must change a file"
    for name in changed:
        if done.passes == 1:
            _assert_only_edited_lines_changed(before[name], after[name], lines.get(name, set()))

    result = _audit(folder, settings)
    gone = {f.fingerprint for f in targets}
    remaining = [f for f in result.findings if f.fingerprint in gone and f.rule_id in {t.rule_id for t in targets}]
    assert not remaining, [f"{f.location} {f.rule_id} {f.message}" for f in remaining]
    assert not _fixable(result, rule_id, unsafe), "the result re-audits clean for the fixed rule"

    # A second --fix changes nothing.
    again = fix.run(result.findings, unsafe, dry=False, reaudit=lambda: _audit(folder, settings).findings)
    assert again.fixed == 0 and _texts(folder) == after
    return len(targets)


def _write(folder: Path, files: dict[str, str] | object) -> None:
    for name, text in files.items():  # type: ignore[attr-defined]
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("rule", "example"), CASES, ids=[f"{r.id}-{e.title}" for r, e in CASES])
def test_fix_on_rule_examples(rule: Rule, example: Example, tmp_path: Path) -> None:
    _write(tmp_path, example.files)
    if not _check_fix(tmp_path, rule.id, dict(example.config), unsafe=rule.autofix == "unsafe"):
        pytest.skip("this example's findings have no fix (test_every_fixing_rule_fixes_one_of_its_examples)")


def test_every_fixing_rule_fixes_one_of_its_examples(tmp_path: Path) -> None:
    for rule in FIXING:
        offered = 0
        for i, example in enumerate(e for e in rule.examples if e.failing):
            folder = tmp_path / f"{rule.id}-{i}"
            _write(folder, example.files)
            offered += len(_fixable(_audit(folder, dict(example.config)), rule.id, rule.autofix == "unsafe"))
        if rule.id == "CA206":
            continue
        assert offered, rule.id


def _examples_copy(tmp_path: Path, variants: list[Path]) -> Path:
    """The guide-following example cluster (audited with the variants, as test_examples does) plus ``variants``."""
    folder = tmp_path / "examples"
    for sub in (ROOT / "examples").iterdir():
        if sub.is_dir() and sub.name != "variants":
            shutil.copytree(sub, folder / sub.name)
    (folder / "variants").mkdir(parents=True)
    for variant in variants:
        shutil.copy(variant, folder / "variants" / variant.name)
    return folder


# CA206's variant is a good-practice note (kube-proxy in iptables mode), which gets no fix by design; its
# error-level findings are fixed in test_ca206_error_findings_get_not_ports_and_notes_do_not. CA101's variant
# has no rule that names an address to pin (its fix is exercised by the rule's example).
FIXED_VARIANTS = [
    v for v in VARIANTS if any(r.id == v.name[:5].upper() for r in FIXING) and v.name[:5] not in ("ca206", "ca101")
]


@pytest.mark.parametrize("variant", FIXED_VARIANTS, ids=[v.name for v in FIXED_VARIANTS])
def test_fix_on_variants(variant: Path, tmp_path: Path) -> None:
    folder = _examples_copy(tmp_path, [variant])
    rule_id = variant.name[:5].upper()
    unsafe = next(r for r in FIXING if r.id == rule_id).autofix == "unsafe"
    before = _audit(folder)
    assert any(f.rule_id == rule_id for f in _fixable(before, rule_id, unsafe)), f"{variant.name} offers no fix"
    assert _check_fix(folder, rule_id, {}, unsafe=unsafe) >= 1
    after = _audit(folder)
    assert not [f for f in after.findings if f.rule_id == rule_id], "the variant re-audits clean for its rule"
    untouched = {p.relative_to(folder) for p in folder.rglob("*.yaml")} - {Path("variants") / variant.name}
    for name in untouched:
        assert (folder / name).read_bytes() == (ROOT / "examples" / name).read_bytes()


def test_fix_on_all_variants_together(tmp_path: Path) -> None:
    folder = _examples_copy(tmp_path, VARIANTS)
    fixed = {f.rule_id for f in _fixable(_audit(folder), None, unsafe=True)}
    assert {"CA002", "CA007", "CA202", "CA207", "CA403"} <= fixed
    assert _check_fix(folder, None, {}, unsafe=True) >= len(fixed)


# ---- the text edits -------------------------------------------------------------------------------

POLICY = """\
# header comment
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips   # trailing comment
spec:
  selector: "k8s-role == 'node'"
  preDNAT: true    # keep me
  ingress:
  - {action: allow, protocol: 'tcp', source: {nets: [50.60.0.0/16]}}
"""


def test_fix_keeps_everything_else_byte_identical(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    done = fix.run(_audit(tmp_path).findings, False, dry=False, reaudit=lambda: _audit(tmp_path).findings)
    assert done.fixed == 3
    assert (tmp_path / "p.yaml").read_text(encoding="utf-8") == POLICY.replace(
        "  preDNAT: true    # keep me\n", "  preDNAT: true    # keep me\n  applyOnForward: true\n"
    ).replace("action: allow, protocol: 'tcp'", "action: Allow, protocol: 'TCP'")


def test_crlf_bom_and_mode_bits_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    target.write_bytes(b"\xef\xbb\xbf" + POLICY.replace("\n", "\r\n").encode())
    target.chmod(0o640)
    done = fix.run(_audit(tmp_path).findings, False, dry=False, reaudit=lambda: _audit(tmp_path).findings)
    assert done.fixed == 3 and not done.skipped
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"  preDNAT: true    # keep me\r\n  applyOnForward: true\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [f for f in _audit(tmp_path).findings if f.rule_id in ("CA202", "CA007")]


def test_flow_mapping_spec_is_left_alone(tmp_path: Path) -> None:
    text = (
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
        "spec: {selector: all(), preDNAT: true, ingress: [{action: Deny}]}\n"
    )
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    result = _audit(tmp_path)
    ca202 = [f for f in result.findings if f.rule_id == "CA202"]
    assert ca202 and ca202[0].autofix is not None and fix.resolve(ca202[0].autofix) is None
    done = fix.run(result.findings, False, dry=False)
    assert done.fixed == 0 and (tmp_path / "p.yaml").read_text(encoding="utf-8") == text


def test_a_fix_that_would_change_other_data_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    result = _audit(tmp_path)
    finding = next(f for f in result.findings if f.rule_id == "CA202")
    assert finding.autofix is not None
    edit = finding.autofix.edits[0]
    # A key whose value the renderer cannot keep on one line as intended: claim one value, write another.
    bad = AutoFix("bad", (Edit("set", Pointer(edit.at.doc, ("spec", "preDNAT")), "true"),))
    finding.autofix = bad  # "true" written plain reads back as a boolean, not the string the edit claims
    done = fix.run([finding], False, dry=False)
    assert done.fixed == 0 and done.skipped and "intended data" in done.skipped[0].error
    assert (tmp_path / "p.yaml").read_text(encoding="utf-8") == POLICY


def test_boolean_label_values_are_quoted_as_written(tmp_path: Path) -> None:
    text = (
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node1-eth0\n  labels:\n"
        "    k8s-master: yes   # a YAML 1.1 boolean\n    tier: 'web'\n    release: 1.10\n"
        "spec:\n  node: node1\n  interfaceName: eth0\n"
    )
    (tmp_path / "h.yaml").write_text(text, encoding="utf-8")
    done = fix.run(_audit(tmp_path).findings, False, dry=False, reaudit=lambda: _audit(tmp_path).findings)
    assert done.fixed == 2
    fixed = (tmp_path / "h.yaml").read_text(encoding="utf-8")
    assert fixed == text.replace("k8s-master: yes", 'k8s-master: "yes"').replace("release: 1.10", 'release: "1.10"')
    assert not [f for f in _audit(tmp_path).findings if f.rule_id == "CA002"]


# ---- the command line -----------------------------------------------------------------------------


def test_cli_diff_writes_nothing_and_fix_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(ROOT / "examples/variants/ca202-missing-apply-on-forward.yaml", tmp_path / "p.yaml")
    monkeypatch.chdir(tmp_path)
    original = (tmp_path / "p.yaml").read_bytes()
    mtime = (tmp_path / "p.yaml").stat().st_mtime_ns
    assert main(["--isolated", "--diff", "p.yaml"]) == 1
    out = capsys.readouterr()
    assert "+  applyOnForward: true\n" in out.out and out.out.startswith("--- a/p.yaml\n+++ b/p.yaml\n")
    assert "would fix 1 finding(s)" in out.err
    assert (tmp_path / "p.yaml").read_bytes() == original and (tmp_path / "p.yaml").stat().st_mtime_ns == mtime
    assert sorted(n for n in os.listdir(tmp_path) if n != ".calico-audit-cache") == ["p.yaml"]

    assert main(["--isolated", "--fix", "--select", "CA202", "p.yaml"]) == 0
    out = capsys.readouterr()
    assert "fixed 1 finding(s) in 1 file(s): p.yaml" in out.err and "No problems found" in out.out
    assert b"  preDNAT: true\n  applyOnForward: true\n" in (tmp_path / "p.yaml").read_bytes()
    assert sorted(n for n in os.listdir(tmp_path) if n != ".calico-audit-cache") == ["p.yaml"]  # no temporary file left behind

    assert main(["--isolated", "--diff", "p.yaml"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_fix_reports_what_remains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    rule = next(r for r in all_rules() if r.id == "CA202")
    _write(tmp_path, rule.examples[0].files)  # two findings: one with a fix, one without
    monkeypatch.chdir(tmp_path)
    assert main(["--isolated", "--fix", "--select", "CA202", "--format", "json"]) == 1
    out = capsys.readouterr()
    remaining = json.loads(out.out)["findings"]
    assert [f["line"] for f in remaining if f["rule"] == "CA202"] == [23]
    assert "fixed 1 finding(s)" in out.err


def test_cli_fix_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--fix", "-"]) == 2
    assert "stdin" in capsys.readouterr().err
    assert main(["--unsafe-fixes", "."]) == 2


def test_sarif_fixes_validate(tmp_path: Path) -> None:
    folder = _examples_copy(tmp_path, VARIANTS)
    out = tmp_path / "out.sarif"
    run = subprocess.run([sys.executable, "-m", "auditor", "--isolated", ".", "--format", "sarif", "-o", str(out)],
                         cwd=folder, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    log = json.loads(out.read_text(encoding="utf-8"))
    with_fixes = [r for r in log["runs"][0]["results"] if r.get("fixes")]
    assert {r["ruleId"] for r in with_fixes} >= {"CA002", "CA007", "CA202", "CA207", "CA403"}
    safety = {r["ruleId"]: r["fixes"][0]["properties"]["calicoAudit/safety"] for r in with_fixes}
    assert safety["CA202"] == "safe" and safety["CA207"] == "unsafe" and safety["CA403"] == "unsafe"
    # The replacements are what --fix applies: applying them to the file gives the fixed file.
    ca202 = next(r for r in with_fixes if r["ruleId"] == "CA202")
    change = ca202["fixes"][0]["artifactChanges"][0]
    target = folder / change["artifactLocation"]["uri"]
    edits = [fix.TextEdit((rep["deletedRegion"]["startLine"], rep["deletedRegion"]["startColumn"]),
                          (rep["deletedRegion"]["endLine"], rep["deletedRegion"]["endColumn"]),
                          rep["insertedContent"]["text"], str(target)) for rep in change["replacements"]]
    expected = fix.apply_edits(target.read_text(encoding="utf-8"), edits)
    assert "  preDNAT: true\n  applyOnForward: true\n" in expected
    # The fix text (what to do) is in properties; the SARIF fix object describes its own edit.
    assert ca202["properties"]["fix"] == "Add `applyOnForward: true` (guide cluster mode, step 2)."
    assert ca202["fixes"][0]["description"]["text"] == "add `applyOnForward: true` after `preDNAT: true`"
    assert "Add `applyOnForward" not in ca202["message"]["text"]
    for result in with_fixes:
        change = result["fixes"][0]["artifactChanges"][0]
        assert change["artifactLocation"]["uri"] == result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert change["replacements"] and result["fixes"][0]["properties"]["calicoAudit/safety"] in ("safe", "unsafe")
    tool = SHARED / "tools" / "validate-sarif"
    if not tool.exists():
        pytest.skip("shared/tools/validate-sarif is not beside the repository")
    multitool = Path.home() / ".cache/sarif-tool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
    args = ["--strict"] + ([] if multitool.exists() else ["--no-multitool"])
    check = subprocess.run([str(tool), *args, str(out)], capture_output=True, text=True,
                           env={**os.environ, "PYTHON": sys.executable})
    assert check.returncode == 0, check.stdout + check.stderr


def test_rule_docs_say_whether_there_is_a_fix() -> None:
    from auditor.docs import rule_markdown

    for rule in all_rules():
        text = rule_markdown(rule)
        assert ("Automatic fix: none." in text) == (rule.autofix is None), rule.id
        if rule.autofix:
            assert f"Automatic fix: {rule.autofix}" in text


def test_ca206_error_findings_get_not_ports_and_notes_do_not(tmp_path: Path) -> None:
    rule = next(r for r in all_rules() if r.id == "CA206")
    files = dict(rule.examples[0].files)
    notes_folder = tmp_path / "notes"
    _write(notes_folder, files)
    notes = [f for f in _audit(notes_folder).findings if f.rule_id == "CA206"]
    assert notes and all(f.severity.label == "note" and f.autofix is None for f in notes)

    # The same rules in a preDNAT policy: the node ports are exposed (errors), and the fix closes them.
    files["policy.yaml"] = files["policy.yaml"].replace(
        "  selector: k8s-role == 'node'\n  ingress:", "  selector: k8s-role == 'node'\n  preDNAT: true\n"
        "  applyOnForward: true\n  ingress:"
    )
    files["policy.yaml"] += "  - action: Allow\n    protocol: SCTP\n"
    _write(tmp_path / "errors", files)
    errors = [f for f in _audit(tmp_path / "errors").findings if f.rule_id == "CA206"]
    assert len(errors) == 3 and all(f.severity.label == "error" and f.autofix is not None for f in errors)
    assert _check_fix(tmp_path / "errors", "CA206", {}, unsafe=False) == 3
    text = (tmp_path / "errors" / "policy.yaml").read_text(encoding="utf-8")
    assert 'notPorts: ["30000:31999", "30000:32767"]' in text  # appended to the partial exclusion
    assert '      selector: k8s-role == \'node\'\n      notPorts: ["30000:32767"]\n' in text  # added to destination
    assert '    protocol: SCTP\n    destination:\n      notPorts: ["30000:32767"]\n' in text  # destination created
    assert not [f for f in _audit(tmp_path / "errors").findings if f.rule_id == "CA206"]


def test_fix_on_the_real_corpus_is_clean_and_idempotent(tmp_path: Path) -> None:
    corpus = SHARED / "corpus" / "real"
    if not corpus.is_dir():
        pytest.skip("shared/corpus/real is not beside the repository")
    copy = tmp_path / "real"
    shutil.copytree(corpus, copy)
    before = _texts(copy)
    done = fix.run(_audit(copy).findings, True, dry=False, reaudit=lambda: _audit(copy).findings)
    assert not done.skipped, [(f.path, f.error) for f in done.skipped]
    after = _texts(copy)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {f.path for f in done.files}
    # The guide's own third example (rendered from the Calico docs) gets its `ingress:` key.
    guide = "tigera__docs/calico__network-policy__services__services-cluster-ips.mdx__L131.yaml"
    if guide in before:
        assert guide in changed and "  - Ingress\n  ingress:\n" in after[guide]
    assert not _fixable(_audit(copy), None, True)
    assert fix.run(_audit(copy).findings, True, dry=False).fixed == 0 and _texts(copy) == after


def test_json_manifests_get_only_json_safe_edits(tmp_path: Path) -> None:
    policy = {
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "p"},
        "spec": {"selector": "all()", "preDNAT": True, "ingress": [{"action": "Allow", "protocol": "tcp"}]},
    }
    text = json.dumps(policy, indent=2) + "\n"
    (tmp_path / "p.json").write_text(text, encoding="utf-8")
    result = _audit(tmp_path)
    ca202 = next(f for f in result.findings if f.rule_id == "CA202")
    assert ca202.autofix is not None and fix.resolve(ca202.autofix) is None  # no YAML key inside a JSON object
    done = fix.run(result.findings, False, dry=False, reaudit=lambda: _audit(tmp_path).findings)
    assert done.fixed == 1
    fixed = (tmp_path / "p.json").read_text(encoding="utf-8")
    assert json.loads(fixed)["spec"]["ingress"][0]["protocol"] == "TCP"
    assert fixed == text.replace('"protocol": "tcp"', '"protocol": "TCP"')


def test_rendered_kustomize_output_is_not_fixed(tmp_path: Path) -> None:
    from auditor.render import find_tools

    if not find_tools().kustomize:
        pytest.skip("kustomize or kubectl is not on PATH")
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "render" / "kustomize", tmp_path / "kustomize")
    before = _texts(tmp_path)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = audit(["kustomize"], from_mapping({"cluster": {"host-endpoints": "declared-only"}}), debug=True)
    finally:
        os.chdir(old)
    ca007 = [f for f in result.findings if f.rule_id == "CA007" and f.autofix is not None]
    assert ca007, "the base's lowercase protocol is reported with a fix in data terms"
    assert all(fix.resolve(f.autofix) is None for f in ca007)  # type: ignore[arg-type]
    assert fix.run(result.findings, True, dry=False).fixed == 0
    assert _texts(tmp_path) == before


def test_a_finding_that_survives_its_fix_is_not_fixed_again(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples/variants/ca202-missing-apply-on-forward.yaml", tmp_path / "p.yaml")
    original = (tmp_path / "p.yaml").read_text(encoding="utf-8")
    calls = []

    def reaudit() -> list[Finding]:
        # As if the fix did not remove the finding: the same finding (same fingerprint) comes back.
        calls.append(1)
        (tmp_path / "p.yaml").write_text(original, encoding="utf-8")
        return _audit(tmp_path).findings

    done = fix.run(_audit(tmp_path).findings, False, dry=False, reaudit=reaudit)
    assert done.passes == 1 and done.fixed == 1 and len(calls) == 1
