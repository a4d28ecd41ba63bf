"""The command line, run for real: configuration, suppressions, baseline, formats, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.cli import main
from tests.conftest import ROOT

BAD_CIDR = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    source:
      nets: [10.20.30.40/24]
"""


def audit(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True, text=True, input=stdin, env=env
    )


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def findings(run: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return json.loads(run.stdout)["findings"]


# --- exit codes and formats ------------------------------------------------------------------


def test_exit_codes(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", BAD_CIDR)
    assert audit(["p.yaml"], tmp_path).returncode == 1
    assert audit(["p.yaml", "--exit-zero"], tmp_path).returncode == 0
    assert audit(["p.yaml", "--fail-on", "never"], tmp_path).returncode == 0
    missing = audit(["nope/"], tmp_path)
    assert missing.returncode == 2 and "no such file or folder: nope/" in missing.stderr
    assert audit(["--format", "xml", "p.yaml"], tmp_path).returncode == 2
    assert audit(["--select", "CA9"], tmp_path).returncode == 2


def test_quiet_statistics_and_json(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", BAD_CIDR)
    quiet = audit(["p.yaml", "-q"], tmp_path)
    assert quiet.returncode == 1 and quiet.stdout == ""
    stats = audit(["p.yaml", "--statistics"], tmp_path)
    assert "CA004" in stats.stdout and "invalid-cidr" in stats.stdout and "^" not in stats.stdout
    data = findings(audit(["p.yaml", "--format", "json"], tmp_path))
    assert [(f["rule"], f["line"], f["column"]) for f in data] == [("CA004", 12, 14)]


def test_stdin_gives_the_same_findings_as_the_files() -> None:
    examples = sorted((ROOT / "examples").rglob("*.yaml"))
    text = "".join(p.read_text(encoding="utf-8") for p in examples)
    from_files = findings(audit(["examples", "--format", "json"], ROOT))
    from_stdin = findings(audit(["-", "--format", "json"], ROOT, stdin=text))

    def key(f: dict[str, object]) -> tuple[object, ...]:
        # Messages and paths name the file they point at; rule, resource and field are the finding.
        return (f["rule"], f["resource"] if f["rule"] != "CA001" else "", f["field"], f["severity"])

    assert len(from_files) > 10
    assert sorted(map(key, from_files)) == sorted(map(key, from_stdin))
    named = findings(audit(["-", "--stdin-filename", "all.yaml", "--format", "json"], ROOT, stdin=BAD_CIDR))
    assert {f["path"] for f in named} == {"all.yaml"}


def test_a_folder_named_trace_is_audited_not_traced(tmp_path: Path) -> None:
    write(tmp_path, "trace/p.yaml", BAD_CIDR)
    run = audit(["trace", "--format", "json"], tmp_path)
    assert run.returncode == 1
    assert findings(run)[0]["path"] == "trace/p.yaml"


def test_list_rules_and_explain(tmp_path: Path) -> None:
    table = audit(["--list-rules"], tmp_path)
    assert table.returncode == 0 and "CA207" in table.stdout and "allow-list-without-deny" in table.stdout
    listing = json.loads(audit(["--list-rules", "--format", "json"], tmp_path).stdout)
    assert {"id": "CA001", "name": "parse-error"}.items() <= listing[0].items()
    explain = audit(["--explain", "CA207"], tmp_path)
    assert explain.returncode == 0
    assert "Why it bites" in explain.stdout and "How to fix" in explain.stdout and "preDNAT" in explain.stdout
    assert audit(["--explain", "allow-list-without-deny"], tmp_path).stdout == explain.stdout
    assert audit(["--explain", "CA999"], tmp_path).returncode == 2


def test_console_fits_80_columns(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", BAD_CIDR)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    run = subprocess.run(
        [sys.executable, "-m", "auditor", "p.yaml"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert "p.yaml:12:14" in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= 80


def test_output_and_sarif_files(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", BAD_CIDR)
    run = audit(["p.yaml", "--sarif", "out/report.sarif", "--format", "json", "-o", "out/report.json"], tmp_path)
    assert run.returncode == 1 and run.stdout == ""
    sarif = json.loads((tmp_path / "out/report.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"][0]["ruleId"] == "CA004"
    assert json.loads((tmp_path / "out/report.json").read_text(encoding="utf-8"))["findings"][0]["rule"] == "CA004"


# --- configuration ---------------------------------------------------------------------------


def test_configuration_from_pyproject_is_found_upwards(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.calico-audit]\nignore = ["CA004"]\n')
    write(tmp_path, "sub/p.yaml", BAD_CIDR)
    run = audit(["p.yaml"], tmp_path / "sub")
    assert run.returncode == 0, run.stdout
    shown = audit(["--show-config"], tmp_path / "sub")
    assert '"CA004"' in shown.stdout and str(tmp_path / "pyproject.toml") in shown.stdout
    assert audit(["p.yaml", "--isolated"], tmp_path / "sub").returncode == 1


def test_configuration_yaml_severity_and_per_path_ignores(tmp_path: Path) -> None:
    write(tmp_path, ".calico-audit.yaml", "severity: {CA004: note}\nfail-on: warning\n")
    write(tmp_path, "p.yaml", BAD_CIDR)
    run = audit(["p.yaml", "--format", "json"], tmp_path)
    assert run.returncode == 0 and findings(run)[0]["severity"] == "note"
    write(tmp_path, ".calico-audit.yaml", "per-path-ignores:\n  'legacy/*': [CA0]\n")
    write(tmp_path, "legacy/p.yaml", BAD_CIDR.replace("allow-cluster-ips", "legacy-policy"))
    run = audit([".", "--format", "json"], tmp_path)
    assert [f["path"] for f in findings(run)] == ["p.yaml"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("selekt: [CA004]\n", "unknown key 'selekt'"),
        ("fail-on: sometimes\n", "fail-on"),
        ("cluster: {pod-cidrs: [10.0.0.1/8]}\n", "host bits"),
        ("cluster: {node-selector: \"a = 'b'\"}\n", "node-selector"),
        ("severity: {CA999: error}\n", "unknown rule"),
        ("select: [CA9]\n", "unknown rule or prefix"),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_bad_configuration_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, ".calico-audit.yaml", text)
    run = audit(["."], tmp_path)
    assert run.returncode == 2
    assert message in run.stderr


def test_explicit_config_file(tmp_path: Path) -> None:
    write(tmp_path, "conf/audit.yaml", "ignore: [invalid-cidr]\n")
    write(tmp_path, "p.yaml", BAD_CIDR)
    assert audit(["p.yaml", "--config", "conf/audit.yaml"], tmp_path).returncode == 0
    assert audit(["p.yaml", "--config", "conf/none.yaml"], tmp_path).returncode == 2


# --- suppressions and baseline ---------------------------------------------------------------


def _suppressed(run: subprocess.CompletedProcess[str]) -> list[tuple[str, object]]:
    return [(f["rule"], (f["suppressed"] or {}).get("source")) for f in findings(run)]


def test_line_comment_suppresses_with_reason_and_stays_in_sarif(tmp_path: Path) -> None:
    write(
        tmp_path, "p.yaml", BAD_CIDR.replace("[10.20.30.40/24]", "[10.20.30.40/24]  # calico-audit: ignore[CA004] lab")
    )
    run = audit(["p.yaml", "--format", "json"], tmp_path)
    assert run.returncode == 0
    assert _suppressed(run) == [("CA004", "comment")]
    sarif = json.loads(audit(["p.yaml", "--format", "sarif"], tmp_path).stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["suppressions"][0]["justification"] == "lab"
    console = audit(["p.yaml"], tmp_path)
    assert "CA004" not in console.stdout and "1 suppressed" in console.stdout
    assert "CA004" in audit(["p.yaml", "--show-suppressed"], tmp_path).stdout


def test_comment_above_header_file_and_annotation_forms(tmp_path: Path) -> None:
    above = BAD_CIDR.replace(
        "      nets: [10.20.30.40/24]", "      # calico-audit: ignore[CA004] reviewed\n      nets: [10.20.30.40/24]"
    )
    header = "# calico-audit: ignore[CA004] whole policy\n" + BAD_CIDR
    whole = BAD_CIDR + "# calico-audit: ignore-file[CA004] generated file\n"
    annotated = BAD_CIDR.replace(
        "  name: allow-cluster-ips\n",
        '  name: allow-cluster-ips\n  annotations:\n    calico-audit.io/ignore: "CA004: rendered by helm"\n',
    )
    for name, text, source in (
        ("a.yaml", above, "comment"),
        ("h.yaml", header, "comment"),
        ("f.yaml", whole, "file"),
        ("n.yaml", annotated, "annotation"),
    ):
        write(tmp_path, name, text)
        run = audit([name, "--format", "json"], tmp_path)
        assert run.returncode == 0, (name, run.stdout)
        assert _suppressed(run) == [("CA004", source)], name


def test_unused_unknown_and_reasonless_suppressions_are_findings(tmp_path: Path) -> None:
    text = BAD_CIDR.replace("  name: allow-cluster-ips", "  name: allow-cluster-ips  # calico-audit: ignore[CA003] old")
    text = text.replace("[10.20.30.40/24]", "[10.20.30.40/24]  # calico-audit: ignore[CA004]")
    text = text.replace("  preDNAT: true", "  preDNAT: true  # calico-audit: ignore[CA123] typo")
    write(tmp_path, "p.yaml", text)
    run = audit(["p.yaml", "--format", "json"], tmp_path)
    got = sorted((f["rule"], f["line"], f["message"].split(":")[0]) for f in findings(run) if not f["suppressed"])
    assert got == [
        ("CA008", 4, "unused suppression of CA003"),
        ("CA008", 7, "suppression names unknown rule `CA123`"),
        ("CA008", 12, "suppression of CA004 gives no reason"),
    ]
    fixes = sorted((f["line"], f["fix"]) for f in findings(run) if not f["suppressed"])
    assert fixes == [
        (4, "Remove CA003 from this comment."),
        (7, "Name a rule ID, name or sub-check that `audit --list-rules` lists."),
        (12, "Say why after the rule list (`# calico-audit: ignore[CA206] nodePorts closed at the load balancer`)."),
    ]
    assert run.returncode == 1


def test_baseline_accepts_known_findings_and_survives_line_moves(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", BAD_CIDR)
    written = audit(["p.yaml", "--write-baseline", "baseline.json"], tmp_path)
    assert written.returncode == 0 and "wrote 1 finding" in written.stderr
    write(tmp_path, "p.yaml", "# a comment that moves every line\n\n" + BAD_CIDR)
    run = audit(["p.yaml", "--baseline", "baseline.json", "--format", "json"], tmp_path)
    assert run.returncode == 0
    assert _suppressed(run) == [("CA004", "baseline")]
    write(tmp_path, "q.yaml", BAD_CIDR.replace("allow-cluster-ips", "other-policy"))
    new = audit([".", "--baseline", "baseline.json", "--format", "json"], tmp_path)
    assert new.returncode == 1
    active = [f["path"] for f in findings(new) if f["suppressed"] is None]
    assert active == ["q.yaml"]
    assert audit(["p.yaml", "--baseline", "missing.json"], tmp_path).returncode == 2


def test_pre_commit_mode_reports_only_changed_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", BAD_CIDR)
    write(tmp_path, "b.yaml", BAD_CIDR.replace("allow-cluster-ips", "other-policy"))
    run = audit(["--pre-commit", "b.yaml", "--format", "json"], tmp_path)
    assert [f["path"] for f in findings(run)] == ["b.yaml"]
    every = audit(["--pre-commit", "--report", "all", "b.yaml", "--format", "json"], tmp_path)
    assert sorted(f["path"] for f in findings(every)) == ["a.yaml", "b.yaml"]


def test_main_returns_exit_codes_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    write(tmp_path, "p.yaml", BAD_CIDR)
    monkeypatch.chdir(tmp_path)
    assert main(["p.yaml", "-q"]) == 1
    assert main(["p.yaml", "-q", "--exit-zero"]) == 0
    assert main(["--bogus"]) == 2
    assert "audit: error:" in capsys.readouterr().err


def test_quick_exit_writes_everything(tmp_path: Path) -> None:
    """The command ends with os._exit (no teardown of the audit's objects): the whole report still
    reaches a pipe and a file, with the exit code of main()."""
    root = Path(__file__).resolve().parent.parent
    piped = audit(["examples", "--format", "json", "--isolated"], cwd=root)
    assert piped.returncode == 1, piped.stderr
    report = json.loads(piped.stdout)
    assert report["findings"] and len(piped.stdout) > 50_000
    out = tmp_path / "r.sarif"
    written = audit(["examples", "--isolated", "--format", "sarif", "-o", str(out), "--exit-zero"], cwd=root)
    assert written.returncode == 0 and written.stdout == ""
    assert len(json.loads(out.read_text())["runs"][0]["results"]) == len(report["findings"])
