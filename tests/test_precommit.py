"""pre-commit runs the hook from this repository: it fails on a broken manifest and passes on a clean one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLEAN = ROOT / "examples"
BROKEN_POLICY = """\
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
      nets: [50.60.0.0/33]
"""


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def _pre_commit(repo: Path, hook_repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "calico-audit", "--all-files", "--verbose"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_pre_commit_try_repo_fails_on_a_broken_manifest_and_passes_on_a_clean_one(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    # A snapshot of this repository as the hook repository (try-repo needs a git repository).
    hook_repo = tmp_path / "hook"
    shutil.copytree(ROOT, hook_repo, ignore=shutil.ignore_patterns(".git", ".venv", ".ci-venv", "*.egg-info",
                                                                    "__pycache__", ".pytest_cache", "benchmarks"))
    _git(hook_repo, "init", "-q")
    _git(hook_repo, "add", "-A")
    _git(hook_repo, "commit", "-qm", "snapshot")

    repo = tmp_path / "manifests"
    for folder in ("cluster", "cluster-mode", "local-mode"):
        shutil.copytree(CLEAN / folder, repo / folder)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "clean manifests")
    home = tmp_path / "pre-commit-home"

    clean = _pre_commit(repo, hook_repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "calico-audit" in clean.stdout and "Passed" in clean.stdout

    (repo / "cluster-mode" / "broken.yaml").write_text(BROKEN_POLICY, encoding="utf-8")
    _git(repo, "add", "-A")
    broken = _pre_commit(repo, hook_repo, home)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    assert "cluster-mode/broken.yaml:12:14" in broken.stdout and "CA004" in broken.stdout
