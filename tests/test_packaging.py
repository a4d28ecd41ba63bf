"""The wheel ships auditor.rules and auditor.schemas (and no top-level rules/schemas) and runs."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_audits_the_examples(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheels = list(dist.glob("calico_audit-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert any(n.startswith("auditor/rules/ca207_") for n in names)
    assert any(n.startswith("auditor/schemas/calico/") and n.endswith(".json") for n in names)
    assert "auditor/schemas/config.json" in names
    shipped = {n.removeprefix("auditor/rules/") for n in names if n.startswith("auditor/rules/examples/")}
    in_tree = {str(p.relative_to(ROOT / "rules")) for p in (ROOT / "rules" / "examples").rglob("*.yaml")}
    assert in_tree <= shipped and "examples/_base/cluster.yaml" in shipped  # (a stale build/ may hold more)
    assert not any(n.startswith(("rules/", "schemas/", "tests/", "examples/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    subprocess.run([str(bindir / "pip"), "install", "--quiet", str(wheels[0])], check=True)
    site = Path(
        subprocess.run(
            [str(bindir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    assert not (site / "rules").exists() and not (site / "schemas").exists()

    out = tmp_path / "examples.sarif"
    run = subprocess.run(
        [str(bindir / "audit"), "examples", "--format", "sarif", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode in (0, 1), run.stderr
    log = json.loads(out.read_text(encoding="utf-8"))
    assert log["runs"][0]["tool"]["driver"]["rules"], "the catalog ships inside the wheel"
    # The examples ship with the rules: --explain shows them from the installed package.
    explain = subprocess.run([str(bindir / "audit"), "--explain", "CA201"], cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout
    assert "Fails: allow-list for a cluster IP without preDNAT" in explain and "Shared base files" in explain
    assert "nets: [10.20.30.40/32]" in explain and "expectedIPs: [10.0.0.11]" in explain
    for command in (["calico-audit", "--version"], ["python", "-m", "auditor", "--version"]):
        version = subprocess.run([str(bindir / command[0]), *command[1:]], capture_output=True, text=True, check=True)
        assert version.stdout.startswith("calico-audit ")


def test_source_tree_layout_matches_the_package_mapping() -> None:
    """``auditor.rules`` and ``auditor.schemas`` resolve to the top-level folders in an editable install."""
    import auditor.rules
    import auditor.schemas

    assert Path(auditor.rules.__path__[0]).resolve() == (ROOT / "rules").resolve()
    assert Path(auditor.schemas.__path__[0]).resolve() == (ROOT / "schemas").resolve()
    assert sysconfig.get_paths()["purelib"]  # the interpreter has a site-packages to install into
