"""Helm charts and kustomize overlays: rendered with the real binaries, findings placed at their sources.

The fixtures under tests/fixtures/render plant one defect each: CA202 (preDNAT without applyOnForward)
in a Helm template and in a kustomize base, CA007 (lowercase ``tcp``) in the chart's production values
and in the kustomize base. ``.ci/run`` installs helm; kustomize is ``kubectl kustomize`` from the image.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import render as render_module
from auditor.cache import ParseCache
from auditor.config import ConfigError, from_mapping
from auditor.findings import Finding, Severity
from auditor.load import SourceFile, parse_text
from auditor.load import reader as reader_module
from auditor.render import RenderSettings, _run, _sandbox, find_tools
from auditor.report import render as report
from auditor.run import AuditResult, audit

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "render"


def _require(tool: str | None, name: str) -> pytest.MarkDecorator:
    # .ci/run installs helm on x86_64 (kubectl comes with the machine image): there, a missing binary is a failure.
    if tool is None and os.environ.get("CI") and platform.machine() == "x86_64":
        pytest.fail(f"CI must provide {name} (.ci/run installs it)")
    return pytest.mark.skipif(tool is None, reason=f"{name} is not on PATH: rendering cannot be exercised here")


TOOLS = find_tools()
needs_helm = _require(TOOLS.helm, "helm")
needs_kustomize = _require(TOOLS.kustomize[0] if TOOLS.kustomize else None, "kustomize or kubectl")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixtures as the working directory (display paths are relative to it)."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(paths: list[str], settings: dict[str, object] | None = None) -> AuditResult:
    # The fixtures are about rendering and placement: no assumed host endpoints (their semantic findings
    # are tested elsewhere).
    return audit(paths, from_mapping({"cluster": {"host-endpoints": "declared-only"}, **(settings or {})}), debug=True)


def only(result: AuditResult, rule_id: str) -> Finding:
    found = [f for f in result.findings if f.rule_id == rule_id]
    assert len(found) == 1, [f"{f.rule_id} {f.location} {f.message}" for f in result.findings]
    return found[0]


def line_of(path: Path | str, text: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of ``text`` in a file."""
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} not in {path}")


def rendered_line(result: AuditResult, finding: Finding) -> str:
    """The text of the finding's related rendered location."""
    where, message = finding.related[0]
    assert "output of" in message, finding.related
    return result.files[where.path].lines[where.span.line - 1]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------------------
# Helm
# ------------------------------------------------------------------------------------------

TEMPLATE = "chart/web/templates/policies.yaml"


@needs_helm
def test_helm_finding_points_at_the_template_line(work: Path) -> None:
    result = run(["chart"])
    finding = only(result, "CA202")
    line, column = line_of(TEMPLATE, "preDNAT: true")
    assert (finding.location.path, finding.location.span.line, finding.location.span.column) == (
        TEMPLATE,
        line,
        column,
    )
    rendered, message = finding.related[0]
    assert rendered.path == "chart/web (helm template)" and "helm template" in message
    assert rendered_line(result, finding).strip() == "preDNAT: true"
    # The rendered output is what helm wrote: the release name came from Chart.yaml's name.
    text = result.files["chart/web (helm template)"].text or ""
    assert "# Source: web/templates/policies.yaml" in text and "name: web-web-prednat" in text
    # The chart's default values use TCP: no CA007; the templates folder is audited rendered, not skipped.
    assert not [f for f in result.findings if f.rule_id == "CA007"]
    assert not [f for f in result.findings if f.rule_id == "CA001"], [f.message for f in result.findings]


@needs_helm
def test_helm_values_from_the_configuration(work: Path) -> None:
    result = run(["chart"], {"helm-values": {"chart/web": ["values-prod.yaml"]}})
    finding = only(result, "CA007")
    assert "`tcp`" in finding.message
    line, column = line_of(TEMPLATE, "protocol: {{ .Values.protocol }}")
    assert (finding.location.path, finding.location.span.line, finding.location.span.column) == (
        TEMPLATE,
        line,
        column,
    )
    assert rendered_line(result, finding).strip() == "protocol: tcp"
    # The first document's finding stays in the first part of the template.
    assert only(result, "CA202").location.span.line < line_of(TEMPLATE, "---")[0]


@needs_helm
def test_helm_values_globs_and_a_missing_value_file(work: Path) -> None:
    result = run(["chart"], {"helm-values": {"chart/*": ["values-staging.yaml"]}})
    finding = only(result, "CA001")
    assert finding.location.path == "chart/web/Chart.yaml"
    assert "values-staging.yaml not found" in finding.message
    assert finding.severity is Severity.ERROR


@needs_helm
def test_helm_range_loop_places_every_copy_at_the_same_template_line(work: Path) -> None:
    write(
        work,
        {
            "loop/Chart.yaml": "apiVersion: v2\nname: loop\nversion: 1.0.0\n",
            "loop/templates/p.yaml": (
                '{{- range list "a" "b" }}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n'
                "metadata:\n  name: p-{{ . }}\nspec:\n  selector: k8s-role == 'node'\n  preDNAT: true\n"
                "  types: [Ingress]\n  ingress:\n  - action: Deny\n    source:\n      nets: [{{ $.Values.net }}]\n"
                "{{- end }}\n"
            ),
            "loop/values.yaml": "net: 0.0.0.0/0\n",
        },
    )
    result = run(["loop"])
    found = sorted((f for f in result.findings if f.rule_id == "CA202"), key=lambda f: f.related[0][0].span.line)
    assert len(found) == 2
    line, column = line_of("loop/templates/p.yaml", "preDNAT: true")
    assert {(f.location.path, f.location.span.line, f.location.span.column) for f in found} == {
        ("loop/templates/p.yaml", line, column)
    }
    assert found[0].related[0][0].span.line < found[1].related[0][0].span.line  # two rendered places


@needs_helm
def test_a_chart_that_does_not_render_is_ca001_at_chart_yaml(work: Path) -> None:
    write(
        work,
        {
            "broken/Chart.yaml": "apiVersion: v2\nname: broken\nversion: 1.0.0\n",
            "broken/values.yaml": "selector: ''\n",
            "broken/templates/p.yaml": (
                "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: p\nspec:\n"
                '  selector: {{ required "selector is required" .Values.selector | quote }}\n'
            ),
            "nodeps/Chart.yaml": (
                "apiVersion: v2\nname: nodeps\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n"
                "  repository: https://charts.example.invalid\n"
            ),
            "nodeps/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        },
    )
    result = run(["broken", "nodeps"])
    problems = {f.location.path: f for f in result.findings if f.rule_id == "CA001"}
    assert set(problems) == {"broken/Chart.yaml", "nodeps/Chart.yaml"}
    assert "could not be rendered" in problems["broken/Chart.yaml"].message
    assert "selector is required" in problems["broken/Chart.yaml"].message
    # Dependencies are never downloaded: a chart without them vendored is a finding, with the fix.
    assert "redis" in problems["nodeps/Chart.yaml"].message
    assert "helm dependency build" in problems["nodeps/Chart.yaml"].message
    assert all(f.severity is Severity.ERROR and f.location.span.line == 1 for f in problems.values())
    assert len(result.findings) == 2


@needs_helm
def test_suppressions_in_templates_cover_rendered_findings(work: Path) -> None:
    text = Path(TEMPLATE).read_text(encoding="utf-8")
    text = text.replace(
        '-prednat\n', '-prednat\n  annotations:\n    calico-audit.io/ignore: "CA202: lab chart, no outside route"\n', 1
    ).replace("{{ .Values.protocol }}", "{{ .Values.protocol }}  # calico-audit: ignore[CA007] vendor chart")
    Path(TEMPLATE).write_text(text, encoding="utf-8")
    result = run(["chart"], {"helm-values": {"chart/web": ["values-prod.yaml"]}})
    by_rule = {f.rule_id: f for f in result.findings}
    assert set(by_rule) == {"CA202", "CA007"}, [(f.rule_id, f.message) for f in result.findings]
    assert by_rule["CA202"].suppression is not None and by_rule["CA202"].suppression.source == "annotation"
    assert by_rule["CA007"].suppression is not None and by_rule["CA007"].suppression.source == "comment"
    assert by_rule["CA202"].location.path == by_rule["CA007"].location.path == TEMPLATE


@needs_helm
def test_sarif_of_a_rendered_finding_validates(work: Path) -> None:
    out = work / "render.sarif"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "chart", "--isolated", "--format", "sarif", "-o", str(out)],
        cwd=work, capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    log = json.loads(out.read_text(encoding="utf-8"))
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "CA202")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == TEMPLATE
    related = [r["physicalLocation"]["artifactLocation"]["uri"] for r in result["relatedLocations"]]
    assert "chart/web%20%28helm%20template%29" in related
    multitool = Path.home() / ".cache/sarif-tool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
    args = ["--strict"] if multitool.exists() else ["--strict", "--no-multitool"]
    check = subprocess.run(
        [str(SHARED / "tools" / "validate-sarif"), *args, str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=300, check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 errors, 0 warnings" in check.stdout


def test_without_helm_the_templates_are_skipped_with_a_note(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(work / "no-tools-here"))
    result = run(["chart"])
    note = only(result, "CA001")
    assert note.location.path == "chart/web/templates" and note.severity is Severity.NOTE
    assert "not manifests until rendered" in note.message  # what is wrong; what to do is the fix
    assert note.fix.startswith("Put helm") and "helm template RELEASE CHART | audit -" in note.fix
    assert not [f for f in result.findings if f.rule_id != "CA001"]  # nothing of the templates was audited


@needs_helm
def test_render_false_in_the_configuration_turns_rendering_off(work: Path) -> None:
    result = run(["chart", "kustomize"], {"render": False})
    note = only(result, "CA001")
    assert note.location.path == "chart/web/templates" and "render = false" in note.message
    assert not any("(helm template)" in f.path or "(kustomize build)" in f.path for f in result.load.files)


# ------------------------------------------------------------------------------------------
# kustomize
# ------------------------------------------------------------------------------------------

BASE = "kustomize/base/policies.yaml"


@needs_kustomize
def test_kustomize_findings_point_at_the_resource_files(work: Path) -> None:
    result = run(["kustomize"])
    ca007 = only(result, "CA007")
    line, column = line_of(BASE, "protocol: tcp")
    assert (ca007.location.path, ca007.location.span.line, ca007.location.span.column) == (BASE, line, column + 10)
    assert ca007.related[0][0].path == "kustomize/overlays/prod (kustomize build)"
    assert rendered_line(result, ca007).strip() == "protocol: tcp"
    ca202 = only(result, "CA202")  # the second document of the same file
    assert (ca202.location.path, ca202.location.span.line) == (BASE, line_of(BASE, "preDNAT: true")[0])
    assert "prod-deny-outside" in ca202.message  # the overlay's namePrefix: this is the rendered object
    # The overlay is rendered once; the base it uses is not rendered or audited on its own, and the patch
    # (a partial resource) is not audited as a file: no CA006 duplicate, no CA002.
    rendered = [f.path for f in result.load.files if f.path.endswith("(kustomize build)")]
    assert rendered == ["kustomize/overlays/prod (kustomize build)"]
    assert {f.rule_id for f in result.findings} == {"CA007", "CA202"}
    names = sorted(r.name for r in result.model.resources)
    assert names == ["prod-allow-web", "prod-deny-outside"]
    policy = next(r for r in result.model.resources if r.name == "prod-allow-web")
    assert policy.raw.data["spec"]["order"] == 30  # the patch was applied
    # Naming the overlay and the base again (or the same folder twice) renders nothing twice.
    again = run(["kustomize", "kustomize/overlays/prod", "./kustomize/base"])
    assert sorted(r.name for r in again.model.resources) == names
    assert [(f.rule_id, str(f.location)) for f in again.findings] == [(f.rule_id, str(f.location)) for f in result.findings]


@needs_kustomize
def test_comment_suppressions_in_kustomize_resource_files(work: Path) -> None:
    text = Path(BASE).read_text(encoding="utf-8")
    # A header comment covers the whole resource (the second document); an end-of-line one its line.
    text = text.replace("---\n", "---\n# calico-audit: ignore[CA202] applyOnForward comes from the platform team\n")
    text = text.replace("protocol: tcp", "protocol: tcp  # calico-audit: ignore[CA007] fixed upstream")
    Path(BASE).write_text(text, encoding="utf-8")
    result = run(["kustomize"])
    assert {(f.rule_id, f.suppression.source if f.suppression else None) for f in result.findings} == {
        ("CA202", "comment"),
        ("CA007", "comment"),
    }


@needs_kustomize
def test_kustomization_with_a_remote_base_is_not_rendered(work: Path) -> None:
    write(
        work,
        {
            "remote/kustomization.yaml": "resources:\n- https://github.com/example/config//base?ref=v1\n- local.yaml\n",
            "remote/local.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
        },
    )
    result = run(["remote"])
    finding = only(result, "CA001")
    assert finding.location.path == "remote/kustomization.yaml"
    assert "remote" in finding.message and "network" in finding.message
    assert [r.name for r in result.model.resources] == ["local"]  # audited as a plain file instead
    assert not any(f.path.endswith("(kustomize build)") for f in result.load.files)


@needs_kustomize
def test_a_kustomization_that_does_not_build_is_ca001(work: Path) -> None:
    write(work, {"bad/kustomization.yaml": "resources:\n- missing.yaml\n"})
    result = run(["bad"])
    finding = only(result, "CA001")
    assert finding.location.path == "bad/kustomization.yaml" and finding.severity is Severity.ERROR
    assert "could not be rendered" in finding.message and "missing.yaml" in finding.message


def _plain_build(folder: Path) -> str:
    assert TOOLS.kustomize is not None
    return subprocess.run([*TOOLS.kustomize, str(folder)], capture_output=True, text=True, check=True).stdout


def _count_kustomize_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    import auditor.render as render_mod

    calls: list[list[str]] = []
    real = render_mod._run

    def counting(cmd: list[str], *args: object) -> tuple[str | None, str]:
        calls.append(list(cmd))
        return real(cmd, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(render_mod, "_run", counting)
    return calls


@needs_kustomize
def test_an_overlay_is_built_once_and_audited_as_the_plain_build(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Annotations of its own (commonAnnotations) and a generated ConfigMap: only kustomize's origin
    # annotations are cut out of the annotated build.
    write(
        work,
        {
            "annotated/kustomization.yaml": "resources:\n- ../kustomize/overlays/prod\n"
            "commonAnnotations:\n  team: platform\n"
            "configMapGenerator:\n- name: settings\n  literals:\n  - mode=strict\n",
        },
    )
    for folder in ("kustomize", "annotated"):
        calls = _count_kustomize_runs(monkeypatch)
        result = run([folder])
        assert len(calls) == 1, calls  # one kustomize run per overlay
        overlay = "kustomize/overlays/prod" if folder == "kustomize" else folder
        rendered = result.files[f"{overlay} (kustomize build)"]
        assert rendered.text == _plain_build(work / overlay)
        assert "config.kubernetes.io/origin" not in (rendered.text or "")
        ca007 = only(result, "CA007")
        assert ca007.location.path == BASE  # placed through the origin annotations
    assert result.files["annotated (kustomize build)"].text.count("team: platform") == 3


@needs_kustomize
def test_a_kustomization_asking_for_build_metadata_itself_is_built_twice(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        work,
        {"meta/kustomization.yaml": "buildMetadata: [originAnnotations]\nresources:\n- ../kustomize/overlays/prod\n"},
    )
    calls = _count_kustomize_runs(monkeypatch)
    result = run(["meta"])
    assert len(calls) == 2, calls  # its own origin annotations are part of what it renders: kept
    rendered = result.files["meta (kustomize build)"]
    assert rendered.text == _plain_build(work / "meta")
    assert "config.kubernetes.io/origin" in (rendered.text or "")
    assert only(result, "CA007").location.path == BASE


def _cached_run(paths: list[str], folder: Path) -> tuple[str, ParseCache]:
    cache = ParseCache(str(folder))
    result = audit(paths, from_mapping({"cluster": {"host-endpoints": "declared-only"}}), cache=cache)
    return report(result, "json"), cache


@needs_kustomize
@needs_helm
def test_a_rendering_whose_inputs_did_not_change_comes_from_the_cache(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = work / ".calico-audit-cache"
    plain = report(audit(["kustomize", "chart"], from_mapping({"cluster": {"host-endpoints": "declared-only"}})), "json")
    calls = _count_kustomize_runs(monkeypatch)
    cold, _ = _cached_run(["kustomize", "chart"], folder)
    assert len(calls) == 2  # the overlay once, the chart once
    assert list(folder.glob("parse-*/render-*")), "nothing rendered was kept"
    calls.clear()
    warm, _ = _cached_run(["kustomize", "chart"], folder)
    assert calls == [] and cold == plain and warm == plain
    # Any file under a folder the overlay builds from is an input: the base's edit is rendered again.
    Path(BASE).write_text(Path(BASE).read_text(encoding="utf-8").replace("protocol: tcp", "protocol: TCP"))
    changed, _ = _cached_run(["kustomize"], folder)
    assert [c[1] for c in calls] == ["kustomize"]
    assert '"CA007"' not in changed and '"CA202"' in changed
    # A damaged entry is a miss: rendered again, same output.
    for entry in folder.glob("parse-*/render-*"):
        entry.write_bytes(entry.read_bytes()[:-3])
    calls.clear()
    again, _ = _cached_run(["kustomize"], folder)
    assert [c[1] for c in calls] == ["kustomize"] and again == changed


@needs_kustomize
def test_a_warm_run_takes_the_parse_of_the_rendered_output_and_its_sources_from_the_cache(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = work / ".calico-audit-cache"
    plain = report(run(["kustomize"]), "json")
    cold, _ = _cached_run(["kustomize"], folder)
    assert list(folder.glob("parse-*/text-*")), "the rendered output's parse was not kept"
    parsed: list[str] = []

    def counting(file: SourceFile, *args: object, **kwargs: object) -> object:
        parsed.append(file.path)
        return parse_text(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module, "parse_text", counting)
    monkeypatch.setattr(render_module, "parse_text", counting)
    warm, cache = _cached_run(["kustomize"], folder)
    assert parsed == [] and cache.hits and cache.misses == 0
    assert cold == plain and warm == plain
    # A damaged entry of the output's parse is a miss: that text alone is parsed again, same output.
    for entry in folder.glob("parse-*/text-*"):
        entry.write_bytes(entry.read_bytes()[:-3])
    again, _ = _cached_run(["kustomize"], folder)
    assert parsed == ["kustomize/overlays/prod (kustomize build)"] and again == plain


def test_without_kustomize_the_files_are_audited_as_they_are(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(work / "no-tools-here"))
    result = run(["kustomize"])
    notes = sorted(f.location.path for f in result.findings if f.rule_id == "CA001")
    assert notes == ["kustomize/base/kustomization.yaml", "kustomize/overlays/prod/kustomization.yaml"]
    assert all("Put kustomize or kubectl on PATH" in f.fix for f in result.findings if f.rule_id == "CA001")
    # Today's behaviour otherwise: the base's defects at their lines, and the patch read as a duplicate.
    assert only(result, "CA007").location.path == BASE
    assert only(result, "CA006").location.path == "kustomize/overlays/prod/order.yaml"


# ------------------------------------------------------------------------------------------
# The sandbox
# ------------------------------------------------------------------------------------------


def test_tool_runs_are_sandboxed_and_timed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/root/of/the/user")
    monkeypatch.setenv("HELM_PLUGINS", "/the/user/plugins")
    monkeypatch.setenv("KUBECONFIG", "/the/user/kubeconfig")
    env = _sandbox(str(tmp_path))
    assert env["HOME"] == str(tmp_path) and env["HELM_PLUGINS"].startswith(str(tmp_path))
    assert env["HELM_NO_PLUGINS"] == "1" and os.listdir(env["HELM_PLUGINS"]) == []
    assert Path(env["KUBECONFIG"]).read_text(encoding="utf-8") == ""
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:") and env["GIT_ALLOW_PROTOCOL"] == "file"
    assert not any(v.startswith("/the/user") or v.startswith("/root/of") for v in env.values())
    text, error = _run(["sleep", "5"], env, str(tmp_path), 0.3, 1000)
    assert text is None and "did not finish within 0.3 seconds" in error
    text, error = _run(["printf", "x" * 50], env, str(tmp_path), 10, 10)
    assert text is None and "above the 10-byte file limit" in error
    text, error = _run(["printf", "ok"], env, str(tmp_path), 10, 10)
    assert (text, error) == ("ok", "")


def test_helm_values_config_is_validated() -> None:
    assert from_mapping({"helm-values": {"charts/web": ["values-prod.yaml"]}}).helm_values == {
        "charts/web": ["values-prod.yaml"]
    }
    with pytest.raises(ConfigError, match="helm-values"):
        from_mapping({"helm-values": {"charts/web": "values-prod.yaml"}})
    with pytest.raises(ConfigError, match="render"):
        from_mapping({"render": "yes"})
    assert RenderSettings().enabled
