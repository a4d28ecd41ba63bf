"""``audit exposure``: the exposure map as data, and the flows a change opens or closes against a git revision."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork

from auditor.addrset import AddressSet
from auditor.cli import main
from auditor.config import Config
from auditor.exposure import load_paths, maps_of, markdown_section, read_revision
from auditor.load import Limits, load_texts
from auditor.model import KNOWN_KINDS
from auditor.run import audit
from tests.conftest import ROOT

HOST_POLICIES = "cluster-mode/host-policies.yaml"
DENY = """---
# What the guide forgets: preDNAT has no default drop. Without this Deny, every other source
# still reaches the cluster IPs.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-cluster-ips
spec:
  selector: k8s-role == 'node'
  order: 200
  types:
  - Ingress
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Deny
    destination:
      nets:
      - 10.20.0.0/16
"""


def _git(repo: Path, *args: str) -> str:
    run = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


def _run(repo: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "auditor", "exposure", *args], cwd=repo, capture_output=True, text=True, env=env
    )
    return run.returncode, run.stdout, run.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the clean examples committed."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("cluster", "cluster-mode"):
        shutil.copytree(ROOT / "examples" / name, root / name)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "clean examples")
    return root


def _state(repo: Path) -> tuple[str, bytes]:
    return _git(repo, "status", "--porcelain"), (repo / ".git" / "index").read_bytes()


def test_removing_the_prednat_deny_opens_flows_and_restoring_it_closes_nothing(repo: Path) -> None:
    policies = repo / HOST_POLICIES
    clean = policies.read_text(encoding="utf-8")
    assert DENY in clean
    policies.write_text(clean.replace(DENY, ""), encoding="utf-8")
    before = _state(repo)

    code, out, err = _run(repo, "--base", "HEAD", "--format", "json")
    assert code == 0, err
    diff = json.loads(out)
    assert diff["base"] == "HEAD" and diff["commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert diff["closed"] == []
    opened = {(o["destination"], o["port"], o["protocol"]): o for o in diff["opened"]}
    # Every advertised Service port of the examples: without the Deny, preDNAT has no default drop.
    assert set(opened) == {("10.20.30.40", 80, "TCP"), ("10.20.30.40", 443, "TCP"), ("10.20.30.41", 8080, "TCP")}
    for item in diff["opened"]:
        assert {"source", "destination", "port", "protocol", "via", "mode", "witness"} <= set(item)
        assert item["via"] == "node1-eth0" and item["host_endpoints"] == ["node1-eth0", "node2-eth0"]
        assert item["mode"] == "cluster" and item["how"] == "cluster IP"
        sources = AddressSet.of(4, [IPNetwork(cidr) for cidr in item["sources"]])
        assert item["source"] == ", ".join(item["sources"])
        witness = item["witness"]
        assert witness["verdict"] == "allowed" and witness["destination"] == item["destination"]
        assert IPAddress(witness["source"]) in sources
        assert witness["command"].startswith("audit trace --from ")
        # The witness steps are placed in the working tree's manifests.
        assert any(s.get("location", "").startswith(HOST_POLICIES + ":") for s in witness["steps"])
    a443 = opened[("10.20.30.40", 443, "TCP")]
    # The clients the Allow names already reached Cluster IP A: they are not newly opened.
    assert "50.60.0.0/16" not in a443["source"] and "50.60.0.1" not in a443["source"]
    assert a443["description"] == "any outside address except 50.60.0.0/16"
    assert opened[("10.20.30.41", 8080, "TCP")]["description"] == "any outside address except 70.80.90.0/24"

    assert _run(repo, "--base", "HEAD", "--fail-on-open")[0] == 1
    assert _state(repo) == before, "the working tree and the index are left alone"

    policies.write_text(clean, encoding="utf-8")
    code, out, err = _run(repo, "--base", "HEAD", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["opened"] == [] and json.loads(out)["closed"] == []
    code, out, _ = _run(repo, "--base", "HEAD", "--fail-on-open")
    assert code == 0 and "0 opened, 0 closed" in out


def test_narrowing_an_allow_closes_the_flows_it_no_longer_lets_through(repo: Path) -> None:
    policies = repo / HOST_POLICIES
    policies.write_text(policies.read_text(encoding="utf-8").replace("50.60.0.0/16", "50.60.1.0/24"), encoding="utf-8")
    code, out, err = _run(repo, "--base", "HEAD", "--format", "json", "--fail-on-open")
    assert code == 0, err  # nothing opened
    diff = json.loads(out)
    assert diff["opened"] == []
    closed = sorted((c["destination"], c["port"]) for c in diff["closed"])
    assert closed == [("10.20.30.40", 80), ("10.20.30.40", 443)]
    for item in diff["closed"]:
        assert "50.60.1.0/24" not in item["sources"] and "50.60.0.0/24" in item["sources"]
        assert item["witness"]["verdict"] == "denied"  # the flow as it is now


def test_deleting_the_services_closes_their_flows_with_the_base_witness(repo: Path) -> None:
    (repo / "cluster-mode" / "services.yaml").unlink()
    code, out, err = _run(repo, "--base", "HEAD", "--format", "json")
    assert code == 0, err
    diff = json.loads(out)
    assert diff["opened"] == []
    assert sorted((c["service"], c["port"], c["description"]) for c in diff["closed"]) == [
        ("shop/svc-a", 80, "50.60.0.0/16"),
        ("shop/svc-a", 443, "50.60.0.0/16"),
        ("shop/svc-b", 8080, "70.80.90.0/24"),
    ]
    for item in diff["closed"]:  # the destination is gone: the witness is the flow the base allowed
        assert item["witness"]["verdict"] == "allowed"
        assert any(s.get("location", "").startswith("cluster-mode/services.yaml:") for s in item["witness"]["steps"])


def test_a_commit_that_removes_the_deny_is_seen_against_its_parent(repo: Path) -> None:
    policies = repo / HOST_POLICIES
    policies.write_text(policies.read_text(encoding="utf-8").replace(DENY, ""), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "drop the deny")
    code, out, _ = _run(repo, "--base", "HEAD~1", "--format", "markdown")
    assert code == 0
    assert "### Exposure changes against `HEAD~1`" in out and "3 opened, 0 closed" in out
    assert "| 🔓 opened | any outside address except 50.60.0.0/16 | `10.20.30.40:443/TCP` |" in out
    code, out, _ = _run(repo, "--base", "HEAD", "--format", "markdown")
    assert "No flow from outside is opened or closed." in out


def test_base_reads_only_the_given_paths_from_the_revision(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = repo / "cluster-mode"
    (sub / "untracked.yaml").write_text("kind: Service\n", encoding="utf-8")  # not in the revision
    monkeypatch.chdir(sub)
    commit, files = read_revision("HEAD", ["."])
    assert commit == _git(repo, "rev-parse", "HEAD").strip()
    assert all("/" not in p for p in files), "display paths are relative to the working directory"
    names = sorted(Path(p).name for p in files)
    assert names == ["host-policies.yaml", "pod-policies.yaml", "services.yaml"]
    assert files["services.yaml"] == (sub / "services.yaml").read_bytes()


def test_base_errors_are_usage_errors(repo: Path, tmp_path: Path) -> None:
    code, _, err = _run(repo, "--base", "no-such-branch")
    assert code == 2 and "no such revision" in err
    code, _, err = _run(repo, "--base=--output=x")  # never passed to git as an option
    assert code == 2 and "not a revision" in err and not (repo / "x").exists()
    outside = tmp_path / "plain"
    outside.mkdir()
    code, _, err = _run(outside, "--base", "HEAD")
    assert code == 2 and "not inside a git repository" in err
    code, _, err = _run(repo, "--fail-on-open")
    assert code == 2 and "--fail-on-open needs --base" in err
    code, _, err = _run(repo, "--base", "HEAD", "-")
    assert code == 2 and "standard input" in err


def test_exposure_map_as_json_with_witnesses_that_trace_replays(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(ROOT / "examples" / "cluster"), str(ROOT / "examples" / "cluster-mode")]
    assert main(["exposure", "--format", "json", *paths]) == 0
    flows = json.loads(capsys.readouterr().out)["flows"]
    by_target = {(f["destination"], f["port"]): f for f in flows}
    a443 = by_target[("10.20.30.40", 443)]
    assert a443["sources"] == ["50.60.0.0/16"] and not a443["everyone"]
    assert a443["via"] == "node1-eth0" and a443["host_endpoints"] == ["node1-eth0", "node2-eth0"]
    assert a443["mode"] == "cluster" and a443["service"] == "shop/svc-a" and a443["how"] == "cluster IP"
    assert by_target[("10.20.30.41", 8080)]["sources"] == ["70.80.90.0/24"]
    command = a443["witness"]["command"]
    assert main([*command.split()[1:], *paths]) == 0
    assert "ALLOWED" in capsys.readouterr().out


NODE_PORT = """apiVersion: v1
kind: Service
metadata:
  name: np
  namespace: shop
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector:
    k8s-svc: svc-a
  ports:
  - port: 8443
    targetPort: 8443
    nodePort: 30443
"""


def test_node_ports_are_mapped_on_every_host_endpoint_address(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "cluster", tmp_path / "cluster")
    shutil.copytree(ROOT / "examples" / "cluster-mode", tmp_path / "cluster-mode")
    (tmp_path / "np.yaml").write_text(NODE_PORT, encoding="utf-8")
    config = Config()
    maps = maps_of(load_paths([str(tmp_path)], config, Limits()), config)
    node = [f for f in maps[0].flows if f.how == "node port"]
    assert sorted((f.destination, f.via) for f in node) == [
        ("10.0.0.11", "node1-eth0"),
        ("10.0.0.12", "node2-eth0"),
        ("192.168.1.1", "node1-eth0"),
        ("192.168.2.1", "node2-eth0"),
    ]
    for flow in node:
        assert flow.port == 30443 and flow.mode == "local" and flow.service == "shop/np"
        # The witness agrees with the map: allowed for a reaching source, denied when none reaches.
        assert flow.witness is not None and flow.witness.allowed == bool(flow.reaching)
        assert flow.witness.destination == flow.destination and flow.witness.port == 30443


def test_clusters_get_one_map_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("prod", "staging"):
        shutil.copytree(ROOT / "examples" / "cluster", tmp_path / "clusters" / name / "cluster")
        shutil.copytree(ROOT / "examples" / "cluster-mode", tmp_path / "clusters" / name / "cluster-mode")
    (tmp_path / "pyproject.toml").write_text('[tool.calico-audit]\nclusters = ["clusters/*"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(tmp_path, "--format", "json")
    assert code == 0, err
    clusters = {f["cluster"] for f in json.loads(out)["flows"]}
    assert clusters == {"clusters/prod", "clusters/staging"}


def test_a_folder_named_exposure_is_still_audited(tmp_path: Path) -> None:
    (tmp_path / "exposure").mkdir()
    (tmp_path / "exposure" / "p.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: [{port: 99999}]\n", encoding="utf-8"
    )
    env = {**os.environ, "NO_COLOR": "1"}
    run = subprocess.run([sys.executable, "-m", "auditor", "exposure"], cwd=tmp_path, capture_output=True, text=True,
                         env=env)
    assert run.returncode == 1 and "CA005" in run.stdout
    code, out, _ = _run(tmp_path, "--format", "json", "exposure")
    assert code == 0 and json.loads(out) == {"flows": []}


def test_load_texts_selects_files_as_the_folder_walk_does() -> None:
    service = b"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: [{port: 80}]\n"
    loaded = load_texts(
        {
            "m/a.yaml": service,
            "m/notes.txt": b"not yaml",
            "m/.git/x.yaml": service,
            "m/legacy/old.yaml": service,
            "chart/Chart.yaml": b"name: c\n",
            "chart/templates/t.yaml": b"{{ .Values }}",
            "m/latin1.yaml": "name: caf\xe9".encode("latin-1"),
        },
        KNOWN_KINDS,
        exclude=["m/legacy/**"],
    )
    assert sorted(f.path for f in loaded.files) == ["chart/Chart.yaml", "m/a.yaml", "m/latin1.yaml"]
    assert [r.doc.file.path for r in loaded.resources] == ["m/a.yaml"]
    codes = {p.code for p in loaded.problems}
    assert "helm-templates" in codes and "encoding" in codes


def test_job_summary_map_is_built_from_the_exposure_map() -> None:
    result = audit([str(ROOT / "examples" / "cluster"), str(ROOT / "examples" / "cluster-mode")], Config())
    section = markdown_section(result.context)
    assert section.startswith("### Exposure map") and "flowchart LR" in section
    assert '"50.60.0.0/16"' in section and '"shop/svc-a 10.20.30.40:443/TCP"' in section
    assert '"node1-eth0 (+1)"' in section


@pytest.mark.slow
def test_pre_commit_exposure_hook_fails_when_the_change_opens_a_flow(repo: Path, tmp_path: Path) -> None:
    """The second hook id, run by pre-commit from this repository at the manual stage."""
    from tests.test_precommit import _git as git_env

    hook_repo = tmp_path / "hook"
    shutil.copytree(ROOT, hook_repo, ignore=shutil.ignore_patterns(".git", ".venv", ".ci-venv", "*.egg-info",
                                                                    "__pycache__", ".pytest_cache", "benchmarks"))
    git_env(hook_repo, "init", "-q")
    git_env(hook_repo, "add", "-A")
    git_env(hook_repo, "commit", "-qm", "snapshot")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}

    def hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "calico-audit-exposure",
             "--all-files", "--hook-stage", "manual", "--verbose"],
            cwd=repo, capture_output=True, text=True, env=env, timeout=600,
        )

    clean = hook()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 opened, 0 closed" in clean.stdout
    policies = repo / HOST_POLICIES
    policies.write_text(policies.read_text(encoding="utf-8").replace(DENY, ""), encoding="utf-8")
    _git(repo, "add", "-A")  # staged, so pre-commit does not stash it away
    opened = hook()
    assert opened.returncode == 1, opened.stdout + opened.stderr
    assert "3 opened, 0 closed" in opened.stdout and "OPENED  any outside address except 50.60.0.0/16" in opened.stdout
