"""The repository is not the cluster: assumed host endpoints and advertisement, stated in the findings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.run import AuditResult
from tests.conftest import ROOT, SHARED, run_files

EXAMPLES = ROOT / "examples"
GUIDE = SHARED / "design" / "guide-services-cluster-ips.md"
# The cluster-mode pitfalls of the examples that rest on host endpoints (their variant files).
PITFALLS = ("ca204", "ca206", "ca207", "ca402", "ca403")


def findings(result: AuditResult, rule: str) -> list:
    assert not [f for f in result.findings if f.internal_error]
    return [f for f in result.findings if f.rule_id == rule]


def test_the_guides_yaml_alone(tmp_path: Path) -> None:
    if not GUIDE.exists():
        pytest.skip("../shared/design is not beside the repository")
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 4
    result = run_files(tmp_path, {f"guide-{i}.yaml": b for i, b in enumerate(blocks, 1)})
    assert [f"{f.location.path}:{f.location.span.line}" for f in findings(result, "CA002")] == ["guide-3.yaml:10"]
    allow_list = findings(result, "CA207")
    assert sorted(f"{f.location.path}:{f.location.span.line}" for f in allow_list) == [
        "guide-1.yaml:19",
        "guide-1.yaml:27",
    ]
    for f in allow_list:
        assert "Assumed:" in f.message and "no BGPConfiguration in the repository" in f.message
        assert "host endpoints matching k8s-role == 'node' exist" in f.message
        assert f.witness is not None and f.witness.allowed
    # Turned off, the guide alone says only what it shows by itself.
    quiet = run_files(tmp_path / "declared", {f"guide-{i}.yaml": b for i, b in enumerate(blocks, 1)},
                      {"cluster": {"host-endpoints": "declared-only"}})
    assert {f.rule_id for f in quiet.findings} == {"CA002"}


def _repo(tmp_path: Path, variant: str, drop_bgp: bool) -> dict[str, str]:
    files = {}
    for folder in ("cluster", "cluster-mode", "local-mode"):
        for path in sorted((EXAMPLES / folder).glob("*.yaml")):
            if path.name == "hostendpoints.yaml":
                continue  # host endpoints are usually not in Git
            text = path.read_text(encoding="utf-8")
            if drop_bgp and path.name == "cluster.yaml":
                text = "\n---\n".join(d for d in text.split("\n---\n") if "kind: BGPConfiguration" not in d)
            files[f"{folder}/{path.name}"] = text
    (source,) = sorted((EXAMPLES / "variants").glob(f"{variant}-*.yaml"))
    files[f"variants/{source.name}"] = source.read_text(encoding="utf-8")
    return files


@pytest.mark.parametrize("drop_bgp", [False, True], ids=["no-hostendpoints", "no-hostendpoints-no-bgp"])
@pytest.mark.parametrize("variant", PITFALLS)
def test_cluster_mode_pitfalls_without_host_endpoints(tmp_path: Path, variant: str, drop_bgp: bool) -> None:
    result = run_files(tmp_path, _repo(tmp_path, variant, drop_bgp))
    found = findings(result, variant.upper())
    assert found, f"{variant} not found without HostEndpoints"
    for f in found:
        assert f.location.path.startswith("variants/")
        assert "Assumed:" in f.message or "assumed" in f.message
    # Nothing else is claimed about what the repository does not hold.
    others = {f.rule_id for f in result.findings} - {variant.upper()}
    assert not others & {"CA102", "CA301", "CA303"}, others
    declared_only = run_files(tmp_path / "declared", _repo(tmp_path, variant, drop_bgp),
                              {"cluster": {"host-endpoints": "declared-only"}})
    assert not findings(declared_only, variant.upper()) or variant == "ca403"


def test_assumed_endpoints_are_not_judged_themselves(tmp_path: Path) -> None:
    """CA301/CA303 judge HostEndpoints; assumed ones are never reported."""
    result = run_files(tmp_path, _repo(tmp_path, "ca207", False))
    assert not findings(result, "CA301") and not findings(result, "CA303")
