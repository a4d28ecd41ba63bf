"""The GitHub Action's metadata and its shell steps, run here the way the runner would run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import ROOT

ACTION = YAML(typ="safe").load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def test_action_metadata_has_what_github_requires() -> None:
    assert {"name", "description", "runs"} <= set(ACTION)
    assert ACTION["runs"]["using"] == "composite"
    for name, spec in ACTION["inputs"].items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name) and "description" in spec
    step_ids = {s.get("id") for s in ACTION["runs"]["steps"]}
    for spec in ACTION["outputs"].values():
        assert "description" in spec and "value" in spec
        for ref in re.findall(r"steps\.([a-z-]+)\.outputs", spec["value"]):
            assert ref in step_ids
    for step in ACTION["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step)
        if "run" in step:
            assert step["shell"] == "bash"
            # Inputs reach scripts through env only (no template injection into the script text).
            assert "${{" not in step["run"], step["name"]
        for expr in EXPR.findall(json.dumps(step)):
            for ref in re.findall(r"inputs\.([a-z0-9-]+)", expr):
                assert ref in ACTION["inputs"], ref
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)


def _evaluate(value: str, inputs: dict[str, str], outputs: dict[str, str], github: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs.") :]]
        if expr == "github.action_path":
            return str(ROOT)
        if expr in ("github.event_name", "github.event.pull_request.base.sha"):
            return github.get(expr, "")
        m = re.fullmatch(r"steps\.([a-z-]+)\.outputs\.([a-z-]+)", expr)
        if m:
            return outputs.get(m.group(2), "")
        raise AssertionError(f"unexpected expression {expr}")

    return EXPR.sub(one, value)


def _run_steps(
    workdir: Path, overrides: dict[str, str], github: dict[str, str] | None = None
) -> tuple[list[int], dict[str, str], str]:
    """Run the action's shell steps in ``workdir``; ``github`` holds the event context (default: a push)."""
    github = {"github.event_name": "push"} | (github or {})
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()} | overrides
    outputs: dict[str, str] = {}
    output_file, summary_file = workdir / "github_output", workdir / "step_summary"
    codes = []
    for step in ACTION["runs"]["steps"]:
        if "run" not in step or step["name"] == "Install calico-audit":
            continue  # setup-python / upload-sarif are GitHub's; the package is installed already
        env = {
            **os.environ,
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "NO_COLOR": "1",
        }
        env.update({k: _evaluate(str(v), inputs, outputs, github) for k, v in step.get("env", {}).items()})
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
        run = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workdir, env=env, capture_output=True, text=True)
        codes.append(run.returncode)
        if output_file.exists():
            for line in output_file.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                outputs[key] = value
    summary = summary_file.read_text(encoding="utf-8") if summary_file.exists() else ""
    return codes, outputs, summary


def test_action_steps_upload_findings_then_fail(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "p.yaml").write_text(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: p\n"
        "spec:\n  ingress:\n  - action: Allow\n    source:\n      nets: [10.0.0.1/8]\n",
        encoding="utf-8",
    )
    codes, outputs, summary = _run_steps(tmp_path, {"paths": "manifests/"})
    assert codes == [0, 0, 1], "the audit step succeeds so the SARIF is uploaded; the last step fails the job"
    assert outputs["exit-code"] == "1" and outputs["sarif-file"] == "calico-audit.sarif"
    sarif = json.loads((tmp_path / "calico-audit.sarif").read_text(encoding="utf-8"))
    assert (
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "manifests/p.yaml"
    )
    assert "CA004" in summary and "## calico-audit" in summary


def test_action_steps_pass_on_clean_manifests(tmp_path: Path) -> None:
    codes, outputs, summary = _run_steps(
        tmp_path, {"paths": str(ROOT / "examples" / "cluster-mode") + " " + str(ROOT / "examples" / "cluster")}
    )
    assert codes == [0, 0, 0] and outputs["exit-code"] == "0"
    assert "Passed" in summary
    assert "Exposure changes" not in summary, "the exposure diff is for pull requests only"


def test_documented_workflow_commands_run(tmp_path: Path) -> None:
    """The audit command lines of docs/github-actions.md, run here against a manifests folder."""
    doc = (ROOT / "docs" / "github-actions.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    commands = [
        line.split("- run:", 1)[1].strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("- run: audit ")
    ]
    assert len(commands) == 2
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "p.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: [{port: 99999}]\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
    }
    sarif_step = subprocess.run(["bash", "-c", commands[0]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert sarif_step.returncode == 0, sarif_step.stderr  # --exit-zero: findings do not stop the upload
    assert json.loads((tmp_path / "calico-audit.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    gate = subprocess.run(["bash", "-c", commands[1]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert gate.returncode == 1
    assert "CA005" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_action_puts_the_exposure_diff_of_a_pull_request_into_the_job_summary(tmp_path: Path) -> None:
    """On pull_request the action compares the checkout with the pull request's base commit."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for folder in ("cluster", "cluster-mode"):
        shutil.copytree(ROOT / "examples" / folder, tmp_path / "manifests" / folder)
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    policies = tmp_path / "manifests" / "cluster-mode" / "host-policies.yaml"
    text = policies.read_text(encoding="utf-8")
    start = text.index("# What the guide forgets")
    policies.write_text(text[:start] + text[text.index("---", start) + 4 :], encoding="utf-8")  # drop the Deny
    subprocess.run([*git, "commit", "-qam", "pull request: drop the pre-DNAT Deny"], cwd=tmp_path, check=True)
    pull_request = {"github.event_name": "pull_request", "github.event.pull_request.base.sha": base}

    codes, _, summary = _run_steps(tmp_path, {"paths": "manifests/", "upload-sarif": "false"}, pull_request)
    assert codes[1] == 0, "the exposure diff never fails the job by itself"
    assert f"### Exposure changes against `{base}`" in summary
    assert "3 opened, 0 closed" in summary and "`10.20.30.40:443/TCP`" in summary
    assert summary.index("## calico-audit") < summary.index("### Exposure changes")

    (tmp_path / "step_summary").unlink()
    _, _, quiet = _run_steps(tmp_path, {"paths": "manifests/", "exposure-diff": "false"}, pull_request)
    assert "Exposure changes" not in quiet and "## calico-audit" in quiet
