"""Reporters: console, SARIF (validated against the official schema and GitHub's rules), JSON,
GitHub annotations and the Markdown job summary, on a hand-built, realistic audit result."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import validators

from auditor import __version__
from auditor.catalog import Rule
from auditor.config import Config
from auditor.findings import Finding, Location, Severity, Span, Suppression
from auditor.loader import LoadResult, SourceFile
from auditor.model import Model
from auditor.report import FORMATS, github, jsonfmt, markdown, render, sarif, summary_line
from auditor.run import AuditResult, Stats

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SARIF_SCHEMA = SHARED / "schemas-external" / "sarif-schema-2.1.0.json"
VALIDATE_SARIF = SHARED / "tools" / "validate-sarif"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# ------------------------------------------------------------------------------------------
# A realistic audit result, built by hand
# ------------------------------------------------------------------------------------------

POLICY_PATH = "policies/allow-cluster-ips.yaml"
POLICY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: has(kubernetes-host)
  applyOnForward: true
  preDNAT: true
  ingress:
    - action: Allow
      destination:
        nets: ["10.96.0.0/33"]
        ports: [80]
"""
SERVICE_PATH = "services/web.yaml"
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: ClusterIP
  clusterIP: 10.96.0.10
"""
POOL_PATH = "pools/default-ipv4-ippool.yaml"
POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  natOutgoing: true
"""


def span_of(text: str, line: int, needle: str) -> Span:
    """The span of ``needle`` on 1-based ``line`` of ``text``."""
    col = text.splitlines()[line - 1].index(needle) + 1
    return Span(line, col, line, col + len(needle))


def rule(rule_id: str, name: str, severity: Severity, **kw: object) -> Rule:
    return Rule(
        id=rule_id,
        name=name,
        title=f"{name.replace('-', ' ').capitalize()}",
        severity=severity,
        rationale=f"Why {name} bites: Calico evaluates this field before the policy applies.",
        remediation=f"Fix {name} as the guide shows.",
        **kw,  # type: ignore[arg-type]
    )


RULES = (
    rule("CA001", "load-error", Severity.ERROR),
    rule("CA004", "invalid-cidr", Severity.ERROR, tags=("validation", "security")),
    rule(
        "CA012",
        "cluster-ip-not-covered",
        Severity.WARNING,
        references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
        guide_step="Step 2: allow traffic to the cluster IPs",
        security_severity=6.3,
    ),
    rule("CA020", "unused-network-set", Severity.NOTE),  # enabled, never fires here
)

CIDR_MESSAGE = (
    '"10.96.0.0/33" is not a valid CIDR: the prefix length 33 is longer than the 32 bits of an IPv4 address, '
    "so Calico rejects the whole policy"
)


def base_findings() -> list[Finding]:
    findings = [
        Finding(
            rule_id="CA004",
            rule_name="invalid-cidr",
            severity=Severity.ERROR,
            message=CIDR_MESSAGE,
            location=Location(POLICY_PATH, span_of(POLICY, 12, '"10.96.0.0/33"')),
            fingerprint="4a1d" * 8,
            field_path="spec.ingress[0].destination.nets[0]",
            identity="GlobalNetworkPolicy//allow-cluster-ips",
            related=((Location(SERVICE_PATH, span_of(SERVICE, 8, "10.96.0.10")), "the Service's cluster IP"),),
        ),
        Finding(
            rule_id="CA012",
            rule_name="cluster-ip-not-covered",
            severity=Severity.WARNING,
            message="The cluster IP 10.96.0.10 of Service shop/web is advertised over BGP, but no preDNAT "
            "policy selects the host endpoints that receive it",
            location=Location(POLICY_PATH, span_of(POLICY, 6, "selector")),
            fingerprint="5b2e" * 8,
            field_path="spec.selector",
            identity="GlobalNetworkPolicy//allow-cluster-ips",
        ),
        Finding(
            rule_id="CA012",
            rule_name="cluster-ip-not-covered",
            severity=Severity.WARNING,
            message="Service shop/web is not covered by any policy",
            location=Location(SERVICE_PATH, span_of(SERVICE, 8, "clusterIP")),
            fingerprint="6c3f" * 8,
            field_path="spec.clusterIP",
            identity="Service/shop/web",
            suppression=Suppression("inSource", "handled by the edge firewall", "comment"),
        ),
        Finding(
            rule_id="CA004",
            rule_name="invalid-cidr",
            severity=Severity.WARNING,  # a configured/issue-level override of the rule's error
            message="192.168.0.0/16 overlaps the service CIDR",
            location=Location(POOL_PATH, span_of(POOL, 6, "192.168.0.0/16")),
            fingerprint="7d40" * 8,
            field_path="spec.cidr",
            identity="IPPool//default-ipv4-ippool",
        ),
    ]
    return sorted(findings, key=Finding.sort_key)


def make_result(
    findings: list[Finding] | None = None,
    *,
    config: Config | None = None,
    notes: list[str] | None = None,
    stats: Stats | None = None,
) -> AuditResult:
    files = [
        SourceFile(POLICY_PATH, None, POLICY),
        SourceFile(SERVICE_PATH, None, SERVICE),
        SourceFile(POOL_PATH, None, POOL),
    ]
    return AuditResult(
        findings=base_findings() if findings is None else findings,
        rules=RULES,
        load=LoadResult(files=files),
        model=Model(),
        config=config or Config(),
        stats=stats or Stats(files=12, documents=245, resources=200, skipped_documents=12, empty_documents=1),
        notes=["assumed the default service CIDR 10.96.0.0/12"] if notes is None else notes,
    )


def internal_error_finding() -> Finding:
    return Finding(
        rule_id="CA012",
        rule_name="cluster-ip-not-covered",
        severity=Severity.ERROR,
        message="internal error in rule CA012 (cluster-ip-not-covered): KeyError: 'spec' at ca012.py:40. "
        "Its results for this run are incomplete; please report this with --debug output.",
        location=Location(".", Span.point(1, 1)),
        fingerprint="dead" * 8,
        internal_error=True,
    )


@pytest.fixture
def result() -> AuditResult:
    return make_result()


def run_validate_sarif(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        [str(VALIDATE_SARIF), *args, str(path)], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def schema_errors(log: dict[str, object]) -> list[str]:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


# ------------------------------------------------------------------------------------------
# The package
# ------------------------------------------------------------------------------------------


def test_package_import_stays_light() -> None:
    code = (
        "import sys, auditor.report\n"
        "names = ('rich', 'jsonschema', 'auditor.report.console', 'auditor.report.sarif')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "[]"


def test_every_format_renders_and_unknown_is_refused(result: AuditResult) -> None:
    assert FORMATS == ("console", "sarif", "json", "github", "markdown")
    for fmt in FORMATS:
        text = render(result, fmt, color=False, width=80)
        assert text.endswith("\n") and not text.endswith("\n\n"), fmt
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(result, "xml")


def test_summary_line_wording(result: AuditResult) -> None:
    assert summary_line(result) == (
        "Found 3 problems (1 error, 2 warnings) in 2 of 12 files; 1 suppressed; "
        "245 documents audited (12 without apiVersion/kind skipped)"
    )
    clean = make_result([], stats=Stats(files=1, documents=1))
    assert summary_line(clean) == "No problems found in 1 file; 1 document audited"


# ------------------------------------------------------------------------------------------
# SARIF
# ------------------------------------------------------------------------------------------


def test_sarif_schema_is_the_official_draft4_one() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    # The errata01 file declares draft-04 (not draft-07): validator_for must pick Draft4Validator.
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert validators.validator_for(schema).__name__ == "Draft4Validator"


def test_sarif_validates_against_official_schema(result: AuditResult) -> None:
    log = sarif.build(result)
    assert schema_errors(log) == []
    # The validator does catch a broken log (guards against a vacuous check).
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert schema_errors(broken)


def test_sarif_passes_validate_sarif_tool(result: AuditResult, tmp_path: Path) -> None:
    path = tmp_path / "calico-audit.sarif"
    path.write_text(render(result, "sarif"), encoding="utf-8")
    proc = run_validate_sarif(path, "--strict", "--no-multitool")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK (0 errors, 0 warnings)" in proc.stdout


def _multitool() -> str | None:
    cache = Path(os.environ.get("SARIF_TOOL_DIR", Path.home() / ".cache" / "sarif-tool"))
    candidates = [
        os.environ.get("SARIF_MULTITOOL", ""),
        str(cache / "node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.mark.skipif(_multitool() is None, reason="SARIF Multitool not installed (see shared/tools/README.md)")
def test_sarif_passes_multitool_github_rules(result: AuditResult, tmp_path: Path) -> None:
    path = tmp_path / "calico-audit.sarif"
    path.write_text(render(make_result([*base_findings(), internal_error_finding()]), "sarif"), encoding="utf-8")
    proc = run_validate_sarif(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK (0 errors" in proc.stdout


def test_sarif_driver_lists_the_enabled_catalog(result: AuditResult) -> None:
    run = sarif.build(result)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "calico-audit"
    assert driver["version"] == driver["semanticVersion"] == __version__
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == ["CA001", "CA004", "CA012", "CA020"]  # CA020 never fired
    by_id = {r["id"]: r for r in driver["rules"]}
    ca012 = by_id["CA012"]
    assert ca012["name"] == "ClusterIpNotCovered"
    assert ca012["shortDescription"]["text"] == "Cluster ip not covered"
    assert ca012["fullDescription"]["text"].startswith("Why cluster-ip-not-covered bites")
    assert "Fix cluster-ip-not-covered" in ca012["help"]["text"]
    assert "services-cluster-ips" in ca012["help"]["markdown"] and "**How to fix:**" in ca012["help"]["markdown"]
    assert "Step 2" in ca012["help"]["text"]
    assert ca012["helpUri"].endswith("#ca012-cluster-ip-not-covered")
    assert ca012["defaultConfiguration"] == {"level": "warning"}
    assert ca012["properties"]["security-severity"] == "6.3"
    assert by_id["CA004"]["properties"]["security-severity"] == "7.5"
    assert by_id["CA020"]["defaultConfiguration"] == {"level": "note"}
    assert by_id["CA020"]["properties"]["security-severity"] == "2.0"
    # Tags: security and calico first, no duplicates (CA004 lists "security" itself).
    assert by_id["CA004"]["properties"]["tags"] == ["security", "calico", "validation"]
    assert all(r["properties"]["precision"] == "high" for r in driver["rules"])


def test_sarif_results(result: AuditResult) -> None:
    run = sarif.build(result)["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == 4  # the suppressed one is kept
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    cidr = next(r for r in results if r["ruleId"] == "CA004" and r["level"] == "error")
    assert cidr["message"]["text"] == CIDR_MESSAGE
    phys = cidr["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"] == {"uri": POLICY_PATH, "uriBaseId": "%SRCROOT%"}
    assert phys["region"] == {
        "startLine": 12,
        "startColumn": 16,
        "endLine": 12,
        "endColumn": 30,
        "snippet": {"text": '"10.96.0.0/33"'},
    }
    assert cidr["partialFingerprints"] == {"calicoAudit/v1": "4a1d" * 8}
    assert cidr["relatedLocations"] == [
        {
            "id": 1,
            "physicalLocation": {
                "artifactLocation": {"uri": SERVICE_PATH, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 8, "startColumn": 14, "endLine": 8, "endColumn": 24},
            },
            "message": {"text": "the Service's cluster IP"},
        }
    ]
    assert cidr["properties"] == {
        "resource": "GlobalNetworkPolicy//allow-cluster-ips",
        "field": "spec.ingress[0].destination.nets[0]",
    }
    assert "suppressions" not in cidr
    # The finding whose severity differs from its rule's default carries its own level.
    overlap = next(r for r in results if r["ruleId"] == "CA004" and r["level"] == "warning")
    assert overlap["message"]["text"].startswith("192.168.0.0/16 overlaps")
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert invocation["toolExecutionNotifications"] == [
        {"level": "note", "message": {"text": "assumed the default service CIDR 10.96.0.0/12"}}
    ]
    assert "properties" not in run  # nothing capped
    assert sarif.capped_note(result) is None


def test_sarif_keeps_suppressed_findings_with_justification(result: AuditResult) -> None:
    results = sarif.build(result)["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 1
    assert suppressed[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == SERVICE_PATH
    assert suppressed[0]["suppressions"] == [
        {
            "kind": "inSource",
            "status": "accepted",
            "justification": "handled by the edge firewall",
            "properties": {"source": "comment"},
        }
    ]


def test_sarif_is_byte_identical_and_machine_independent(
    result: AuditResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = render(result, "sarif")
    assert render(make_result(), "sarif") == first
    monkeypatch.chdir(tmp_path)  # another working directory: nothing absolute may leak in
    assert render(make_result(), "sarif") == first
    for leak in (str(ROOT), str(tmp_path), "file://", "startTimeUtc", "endTimeUtc"):
        assert leak not in first
    base = json.loads(first)["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]
    assert "uri" not in base and base["description"]["text"]


def test_sarif_absolute_path_outside_working_directory(tmp_path: Path) -> None:
    outside = dataclasses.replace(
        base_findings()[0], location=Location("/etc/calico/my policy.yaml", Span(3, 1, 3, 5)), related=()
    )
    log = sarif.build(make_result([outside]))
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "file:///etc/calico/my%20policy.yaml"}
    assert schema_errors(log) == []
    path = tmp_path / "abs.sarif"
    path.write_text(sarif.dumps(log), encoding="utf-8")
    proc = run_validate_sarif(path, "--no-multitool")  # valid; GitHub prefers relative paths (a warning)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is absolute" in proc.stdout


def test_sarif_percent_encodes_relative_paths() -> None:
    odd = dataclasses.replace(base_findings()[0], location=Location("my dir/a#1:b.yaml", Span(1, 1, 1, 2)))
    artifact = sarif.build(make_result([odd]))["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"
    ]
    assert artifact == {"uri": "my%20dir/a%231%3Ab.yaml", "uriBaseId": "%SRCROOT%"}


def test_sarif_internal_errors_are_notifications() -> None:
    res = make_result([*base_findings(), internal_error_finding()], notes=[])
    log = sarif.build(res)
    assert schema_errors(log) == []
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["message"]["text"].startswith("internal error in rule CA012")
    assert notification["associatedRule"] == {"id": "CA012", "index": 2}
    crash = [r for r in log["runs"][0]["results"] if r.get("properties", {}).get("internalError")]
    assert len(crash) == 1 and crash[0]["level"] == "error"


def test_sarif_severity_overrides_go_to_rule_configuration_overrides() -> None:
    log = sarif.build(make_result(config=Config(severity={"CA012": Severity.ERROR, "CA004": Severity.ERROR})))
    invocation = log["runs"][0]["invocations"][0]
    # CA004 is already an error by default: only the real change is recorded.
    assert invocation["ruleConfigurationOverrides"] == [
        {"descriptor": {"id": "CA012", "index": 2}, "configuration": {"level": "error"}}
    ]
    assert log["runs"][0]["tool"]["driver"]["rules"][2]["defaultConfiguration"] == {"level": "warning"}
    assert schema_errors(log) == []


def test_sarif_finding_of_unknown_rule_gets_a_descriptor() -> None:
    stray = dataclasses.replace(base_findings()[0], rule_id="CA999", rule_name="stray-rule")
    log = sarif.build(make_result([stray]))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[-1]["id"] == "CA999" and rules[-1]["name"] == "StrayRule"
    assert log["runs"][0]["results"][0]["ruleIndex"] == len(rules) - 1
    assert schema_errors(log) == []


def test_sarif_caps_results_at_25000_most_severe_first() -> None:
    notes = [
        Finding(
            "CA020",
            "unused-network-set",
            Severity.NOTE,
            f"unused set {i}",
            Location(f"sets/s{i // 100:03d}.yaml", Span(i % 100 + 1, 1, i % 100 + 1, 5)),
            f"{i:032x}",
        )
        for i in range(25_000)
    ]
    severe = [
        Finding(
            "CA004",
            "invalid-cidr",
            Severity.ERROR,
            f"bad cidr {i}",
            Location("zz/last.yaml", Span(i + 1, 3, i + 1, 9)),
            f"e{i:031x}",
        )
        for i in range(10)
    ]
    res = make_result(notes + severe)  # the errors come last in report order
    assert len(res.findings) == 25_010
    log = sarif.build(res)
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == 25_000
    messages = [r["message"]["text"] for r in results]
    assert all(f"bad cidr {i}" in messages for i in range(10))  # every error kept
    assert sum(r["level"] == "note" for r in results) == 24_990
    # Dropped: the last 10 notes in report order (deterministic); report order is kept.
    assert "unused set 24989" in messages and "unused set 24990" not in messages
    assert messages[-1] == "bad cidr 9"
    assert run["properties"] == {
        "calicoAudit/capped": True,
        "calicoAudit/cappedBy": "results",
        "calicoAudit/totalResults": 25_010,
        "calicoAudit/keptResults": 25_000,
        "calicoAudit/relatedLocationsTrimmed": 0,
    }
    note = sarif.capped_note_for(log)
    assert note == sarif.capped_note(res)
    assert note is not None and "kept 25,000 of 25,010 results" in note and "most severe first" in note
    assert len(gzip.compress(sarif.dumps(log).encode())) < sarif.MAX_GZIP_BYTES


def test_sarif_caps_related_locations_at_1000() -> None:
    many = tuple((Location(SERVICE_PATH, Span(i + 1, 1, i + 1, 2)), f"related {i}") for i in range(1_005))
    finding = dataclasses.replace(base_findings()[0], related=many)
    log = sarif.build(make_result([finding]))
    res = log["runs"][0]["results"][0]
    assert len(res["relatedLocations"]) == 1_000
    assert [r["id"] for r in res["relatedLocations"][:3]] == [1, 2, 3]
    assert res["properties"]["calicoAudit/relatedLocationsTotal"] == 1_005
    assert log["runs"][0]["properties"]["calicoAudit/relatedLocationsTrimmed"] == 1
    note = sarif.capped_note_for(log)
    assert note is not None and "related locations of 1 result trimmed to 1,000" in note
    assert schema_errors(log) == []


def test_sarif_caps_by_gzipped_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # 10 MB of findings is slow to build: lower the budget and check the same mechanism.
    monkeypatch.setattr(sarif, "_GZIP_BUDGET", 60_000)
    findings = [
        Finding(
            "CA012",
            "cluster-ip-not-covered",
            Severity.ERROR if i % 7 == 0 else Severity.WARNING,
            f"finding {i} " + os.urandom(200).hex(),
            Location(f"f{i:04d}.yaml", Span(1, 1, 1, 2)),
            f"{i:032x}",
        )
        for i in range(400)
    ]
    log = sarif.build(make_result(findings))
    run = log["runs"][0]
    assert len(gzip.compress(sarif.dumps(log).encode(), 6)) <= 60_000
    kept = run["results"]
    assert 0 < len(kept) < 400
    assert run["properties"]["calicoAudit/cappedBy"] == "size"
    assert run["properties"]["calicoAudit/keptResults"] == len(kept)
    errors = sum(1 for i in range(400) if i % 7 == 0)
    assert [r["level"] for r in kept[: len(kept)]].count("error") == min(errors, len(kept))
    assert "MB gzipped" in (sarif.capped_note_for(log) or "")


# ------------------------------------------------------------------------------------------
# Console
# ------------------------------------------------------------------------------------------


def console(res: AuditResult, width: int = 80, **kw: bool) -> str:
    return render(res, "console", color=False, width=width, **kw)


def test_console_plain_report(result: AuditResult) -> None:
    out = console(result)
    assert "\x1b[" not in out
    lines = out.splitlines()
    # Grouped by file, in path order, each group headed by its path and count.
    assert lines[0] == f"{POLICY_PATH} (2 problems)"
    assert f"{POOL_PATH} (1 problem)" in lines
    assert lines.index(f"{POLICY_PATH} (2 problems)") < lines.index(f"{POOL_PATH} (1 problem)")
    assert f"{POLICY_PATH}:12:16: error CA004 invalid-cidr" in lines
    assert f"{POLICY_PATH}:6:3: warning CA012 cluster-ip-not-covered" in lines
    # The message is wrapped, indented, and not broken inside a word.
    start = lines.index(f"{POLICY_PATH}:12:16: error CA004 invalid-cidr") + 1
    message_lines = []
    while lines[start].startswith("  ") and "|" not in lines[start]:
        message_lines.append(lines[start].strip())
        start += 1
    assert " ".join(message_lines) == CIDR_MESSAGE
    assert len(message_lines) == 2
    # The code frame: one line of context either side, line numbers, the span underlined.
    frame = lines[start : start + 6]
    assert frame == [
        "     |",
        "  11 |       destination:",
        '  12 |         nets: ["10.96.0.0/33"]',
        "     |                ^~~~~~~~~~~~~~",
        "  13 |         ports: [80]",
        "     |",
    ]
    source, carets = frame[2], frame[3]
    assert carets.index("^") == source.index('"10.96')
    assert len(carets.strip(" |")) == len('"10.96.0.0/33"')
    # Related locations as notes, aligned under the gutter.
    assert lines[start + 6] == f"     = note: the Service's cluster IP at {SERVICE_PATH}:8:14"
    # Notes of the run, the per-rule table and the summary.
    assert "note: assumed the default service CIDR 10.96.0.0/12" in lines
    table = lines.index("Rule   Name                    Severity  Count")
    assert lines[table + 1 : table + 3] == [
        "CA004  invalid-cidr            error         2",
        "CA012  cluster-ip-not-covered  warning       1",
    ]
    assert lines[-2:] == [
        "Found 3 problems (1 error, 2 warnings) in 2 of 12 files; 1 suppressed; 245",
        "documents audited (12 without apiVersion/kind skipped)",
    ]
    assert all(line == line.rstrip() for line in lines)


def test_console_is_deterministic_and_color_only_adds_ansi(result: AuditResult) -> None:
    plain = console(result)
    assert console(make_result()) == plain
    colored = render(result, "console", color=True, width=80)
    assert "\x1b[1;31merror\x1b[0m" in colored  # severity in red
    assert ANSI.sub("", colored) == plain


def test_console_hides_suppressed_unless_asked(result: AuditResult) -> None:
    hidden = console(result)
    assert "handled by the edge firewall" not in hidden
    assert SERVICE_PATH + ":8:3" not in hidden
    assert "; 1 suppressed;" in hidden
    shown = console(result, show_suppressed=True)
    assert f"{SERVICE_PATH}:8:3: warning CA012 cluster-ip-not-covered (suppressed)" in shown
    assert "= suppressed (comment): handled by the edge firewall" in shown
    assert f"{SERVICE_PATH} (0 problems, 1 suppressed)" in shown
    # The table still counts only findings that count.
    assert "CA012  cluster-ip-not-covered  warning       1" in shown
    colored = render(result, "console", color=True, width=80, show_suppressed=True)
    dim_line = next(line for line in colored.splitlines() if "handled by the edge firewall" in line)
    assert "\x1b[2m" in dim_line or ";2m" in dim_line  # dimmed


def test_console_internal_errors_are_highlighted() -> None:
    res = make_result([*base_findings(), internal_error_finding()])
    out = console(res)
    assert " internal error  CA012 cluster-ip-not-covered" in out
    assert "KeyError: 'spec'" in out
    assert ".:1:1" not in out  # not dressed up as a place in a file
    assert " ".join(out.split()).endswith(
        "Found 3 problems (1 error, 2 warnings) in 2 of 12 files; 1 suppressed; "
        "1 internal error (results are incomplete); 245 documents audited (12 without apiVersion/kind skipped)"
    )
    # A crashed rule is not a violation of that rule: the table does not count it.
    assert "CA012  cluster-ip-not-covered  warning       1" in out
    summary = jsonfmt.build(make_result([internal_error_finding()], config=Config(fail_on=None)))["summary"]
    assert (summary["problems"], summary["internal_errors"], summary["failed"]) == (0, 1, True)
    colored = render(res, "console", color=True, width=80)
    assert "\x1b[1;37;41m internal error \x1b[0m" in colored


def test_console_quiet_and_statistics(result: AuditResult) -> None:
    assert render(result, "console", color=False, quiet=True) == ""
    stats = console(result, statistics=True)
    assert stats.splitlines() == [
        "Rule   Name                    Severity  Count",
        "CA004  invalid-cidr            error         2",
        "CA012  cluster-ip-not-covered  warning       1",
    ]
    assert console(make_result([]), statistics=True) == ""


def test_console_clean_run() -> None:
    out = console(make_result([], notes=[]))
    assert out == "No problems found in 12 files; 245 documents audited (12 without apiVersion/kind\nskipped)\n"


def test_console_neutralises_control_characters_from_the_data() -> None:
    evil = Finding(
        "CA004",
        "invalid-cidr",
        Severity.ERROR,
        "name \x1b[2J\x1b]0;pwned\x07 and \u202egnp.exe",
        Location(POLICY_PATH, Span(6, 3, 6, 11)),
        "e" * 32,
    )
    for color in (False, True):
        out = render(make_result([evil]), "console", color=color, width=80)
        assert "\x1b[2J" not in out and "\x07" not in out and "\u202e" not in out
        assert "name \ufffd[2J\ufffd]0;pwned\ufffd and \ufffdgnp.exe" in out


def test_malformed_spans_do_not_break_reporters() -> None:
    cidr, selector = (next(f for f in base_findings() if f.fingerprint == fp) for fp in ("4a1d" * 8, "5b2e" * 8))
    odd = dataclasses.replace(cidr, location=Location(POLICY_PATH, Span(0, 0, 0, 0)), related=())
    beyond = dataclasses.replace(selector, location=Location(POLICY_PATH, Span(99, 5, 98, 1)))
    res = make_result([odd, beyond])
    out = console(res)
    assert f"{POLICY_PATH}:0:0: error CA004 invalid-cidr" in out  # shown as given, framed at 1:1
    assert "  1 | apiVersion: projectcalico.org/v3\n    | ^\n" in out
    assert f"{POLICY_PATH}:99:5: warning CA012 cluster-ip-not-covered" in out  # past the end: no frame
    assert "  99 |" not in out
    log = sarif.build(res)
    regions = [r["locations"][0]["physicalLocation"]["region"] for r in log["runs"][0]["results"]]
    assert regions[0] == {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}
    assert regions[1] == {"startLine": 99, "startColumn": 5, "endLine": 99, "endColumn": 5}
    assert schema_errors(log) == []


def _long_result() -> tuple[AuditResult, str]:
    long_path = "manifests/" + "very-long-directory-name/" * 4 + "global-network-policy-allowing-cluster-ips.yaml"
    long_line = "        nets: [" + ", ".join(f'"10.{i}.0.0/16"' for i in range(30)) + ', "10.96.0.0/33"]'
    text = "spec:\n  ingress:\n    - destination:\n" + long_line + "\n        ports: [80]\n"
    span = span_of(text, 4, '"10.96.0.0/33"')
    findings = [
        Finding(
            "CA004",
            "invalid-cidr",
            Severity.ERROR,
            CIDR_MESSAGE + ". " + CIDR_MESSAGE,
            Location(long_path, span),
            "1" * 32,
            related=((Location(long_path, Span(1, 1, 1, 5)), "the spec"),),
        ),
        Finding(
            "CA012",
            "cluster-ip-not-covered",
            Severity.WARNING,
            "multi-line span",
            Location(long_path, Span(2, 3, 4, 20)),
            "2" * 32,
        ),
    ]
    res = make_result(findings)
    res.load.files.append(SourceFile(long_path, None, text))
    return res, long_path


def test_console_fits_80_columns() -> None:
    res, long_path = _long_result()
    out = console(res, width=80)
    for line in out.splitlines():
        assert len(line) <= 80 or long_path in line, line
    lines = out.splitlines()
    # The overlong source line is windowed around the span, and the carets still point at it.
    i = next(n for n, line in enumerate(lines) if "10.96.0.0/33" in line and " | " in line)
    source, carets = lines[i], lines[i + 1]
    assert "…" in source and len(source) <= 80
    assert carets.index("^") == source.index('"10.96.0.0/33"')
    assert carets.count("~") == len('"10.96.0.0/33"') - 1
    # The header too long for one line puts the rule on the next line.
    at = lines.index(f"{long_path}:4:{res.findings[0].location.span.column}:")
    assert lines[at + 1] == "  error CA004 invalid-cidr"


def test_console_wraps_at_200_columns() -> None:
    res, long_path = _long_result()
    out = console(res, width=200)
    lines = out.splitlines()
    assert all(len(line) <= 200 for line in lines)
    message = [line for line in lines if line.startswith('  "10.96.0.0/33" is not')]
    assert len(message) == 1 and len(message[0]) > 150  # the width is used, not 80
    assert f"{long_path}:4:" in out and "error CA004 invalid-cidr" in out


def test_console_multi_line_span_marks_start_and_end() -> None:
    res, _ = _long_result()
    out = console(res, width=100)
    block = out[out.index("  multi-line span\n") :].split("\n\n")[0].splitlines()
    assert block[1:6] == [
        "    |",
        "  1 | spec:",
        "  2 |   ingress:",
        "    |   ^~~~~~~~",  # from the start column to the end of the first line
        "  3 |     - destination:",
    ]
    assert block[6].startswith('  4 |         nets: ["10.0.0.0/16"') and block[6].endswith("…")
    assert block[7] == "    |         ~~~~~~~~~~^"  # from the indentation to the end column (20)
    assert block[8:] == ["  5 |         ports: [80]", "    |"]


def test_console_long_multi_line_span_elides_the_middle() -> None:
    text = "".join(f"line{i}: {i}\n" for i in range(1, 21))
    finding = Finding(
        "CA012",
        "cluster-ip-not-covered",
        Severity.WARNING,
        "long span",
        Location(POLICY_PATH, Span(3, 1, 12, 6)),
        "3" * 32,
    )
    res = make_result([finding], notes=[])
    res.load.files[0] = SourceFile(POLICY_PATH, None, text)
    block = console(res).split("\n\n")[1].splitlines()
    assert block[2:] == [
        "     |",
        "   2 | line2: 2",
        "   3 | line3: 3",
        "     | ^~~~~~~~",
        "  ...",
        "  12 | line12: 12",
        "     | ~~~~^",
        "  13 | line13: 13",
        "     |",
    ]


# ------------------------------------------------------------------------------------------
# JSON
# ------------------------------------------------------------------------------------------


def test_json_shape(result: AuditResult) -> None:
    text = render(result, "json")
    assert text.startswith('{\n  "version": 1,\n  "tool": {')  # indent 2, fixed key order
    data = json.loads(text)
    assert list(data) == ["version", "tool", "summary", "findings"]
    assert data["tool"] == {"name": "calico-audit", "version": __version__}
    assert data["summary"] == {
        "problems": 3,
        "by_severity": {"error": 1, "warning": 2, "note": 0},
        "by_rule": {"CA004": 2, "CA012": 1},
        "files": 12,
        "files_with_problems": 2,
        "documents": 245,
        "resources": 200,
        "skipped": 12,
        "empty": 1,
        "suppressed": 1,
        "internal_errors": 0,
        "fail_on": "warning",
        "failed": True,
        "clusters": [],
    }
    assert len(data["findings"]) == 4
    first = data["findings"][0]
    assert list(first) == [
        "rule",
        "name",
        "severity",
        "message",
        "fix",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "fingerprint",
        "resource",
        "field",
        "related",
        "suppressed",
        "internal_error",
        "cluster",
        "clusters",
    ]
    cidr = next(f for f in data["findings"] if f["fingerprint"] == "4a1d" * 8)
    assert cidr["rule"] == "CA004" and cidr["name"] == "invalid-cidr" and cidr["severity"] == "error"
    assert (cidr["path"], cidr["line"], cidr["column"], cidr["end_line"], cidr["end_column"]) == (
        POLICY_PATH,
        12,
        16,
        12,
        30,
    )
    assert cidr["related"] == [
        {
            "message": "the Service's cluster IP",
            "path": SERVICE_PATH,
            "line": 8,
            "column": 14,
            "end_line": 8,
            "end_column": 24,
        }
    ]
    assert cidr["suppressed"] is None
    assert cidr["fix"] == ""  # always present; empty when the finding offers no remedy
    hidden = next(f for f in data["findings"] if f["suppressed"])
    assert hidden["suppressed"] == {
        "kind": "inSource",
        "justification": "handled by the edge firewall",
        "source": "comment",
    }
    assert render(make_result(), "json") == text


def test_json_failed_follows_fail_on() -> None:
    assert jsonfmt.build(make_result(config=Config(fail_on=Severity.ERROR)))["summary"]["failed"] is True
    only_warnings = [f for f in base_findings() if f.severity == Severity.WARNING]
    res = make_result(only_warnings, config=Config(fail_on=Severity.ERROR))
    assert jsonfmt.build(res)["summary"]["failed"] is False
    never = make_result(config=Config(fail_on=None))
    assert jsonfmt.build(never)["summary"]["fail_on"] is None
    assert jsonfmt.build(never)["summary"]["failed"] is False


def test_json_format_is_documented() -> None:
    doc = (ROOT / "docs" / "json-format.md").read_text(encoding="utf-8")
    data = jsonfmt.build(make_result())
    for key in [*data["summary"], *data["findings"][0]]:
        assert f"`{key}`" in doc, key


# ------------------------------------------------------------------------------------------
# GitHub annotations
# ------------------------------------------------------------------------------------------


def test_github_escaping() -> None:
    assert github.escape_data("100% sure\r\nnext: a, b") == "100%25 sure%0D%0Anext: a, b"
    assert github.escape_property("a%b\r\n:,c") == "a%25b%0D%0A%3A%2Cc"


def test_github_annotations(result: AuditResult) -> None:
    lines = render(result, "github").splitlines()
    assert len(lines) == 3  # the suppressed finding is left out
    # Errors first (GitHub shows only the first annotations of a step), then report order.
    assert lines[0] == (
        f"::error file={POLICY_PATH},line=12,col=16,endLine=12,endColumn=30,title=CA004 invalid-cidr::"
        + CIDR_MESSAGE.replace("%", "%25")
        + f"%0A= note: the Service's cluster IP at {SERVICE_PATH}:8:14"
    )
    assert lines[1].startswith(f"::warning file={POLICY_PATH},line=6,col=3,endLine=6,endColumn=11,")
    assert lines[2].startswith(f"::warning file={POOL_PATH},line=6,col=9,")
    assert all("edge firewall" not in line and SERVICE_PATH + ",line=8" not in line for line in lines)


def test_github_annotation_kinds_and_odd_text() -> None:
    odd = Finding(
        "CA020",
        "unused-network-set",
        Severity.NOTE,
        "50% of nets: unused,\nreally",
        Location("dir,a/b:c.yaml", Span(2, 1, 4, 3)),
        "9" * 32,
    )
    line = github.annotation(odd)
    # notice for notes; properties escape , and :; a multi-line span sends no columns.
    assert (
        line == "::notice file=dir%2Ca/b%3Ac.yaml,line=2,endLine=4,title=CA020 unused-network-set::"
        "50%25 of nets: unused,%0Areally"
    )
    crash = github.annotation(internal_error_finding())
    assert crash.startswith("::error title=internal error in CA012 cluster-ip-not-covered::internal error in rule")
    assert "file=" not in crash
    ordered = render(make_result([*base_findings(), internal_error_finding()]), "github").splitlines()
    assert ordered[0] == crash and ordered[1].startswith("::error file=")


# ------------------------------------------------------------------------------------------
# Markdown job summary
# ------------------------------------------------------------------------------------------


def test_markdown_summary(result: AuditResult) -> None:
    md = render(result, "markdown")
    lines = md.splitlines()
    assert lines[0] == "## calico-audit"
    assert lines[2].startswith("❌ **Failed: 3 problems at or above warning.** Found 3 problems")
    assert "| Rule | Name | Severity | Count |" in lines
    assert "| CA004 | invalid-cidr | error | 2 |" in lines
    assert "| CA012 | cluster-ip-not-covered | warning | 1 |" in lines
    assert "### Findings that fail the run" in lines
    assert f"| `{POLICY_PATH}:12` | CA004 invalid-cidr | {CIDR_MESSAGE} |" in lines
    assert "edge firewall" not in md


def test_markdown_verdicts() -> None:
    clean = render(make_result([]), "markdown")
    assert "✅ **Passed.** No problems found in 12 files" in clean
    assert "| Rule |" not in clean and "fail the run" not in clean
    below = render(make_result(config=Config(fail_on=None)), "markdown")
    assert "⚠️ **Passed** (1 error, 2 warnings below the failure threshold)" in below
    assert "fail the run" not in below
    crashed = render(make_result([internal_error_finding()], config=Config(fail_on=None)), "markdown")
    assert "💥 **Incomplete: 1 internal error.**" in crashed
    assert "| `(internal)` | CA012 cluster-ip-not-covered | internal error in rule CA012" in crashed


def test_markdown_caps_listing_at_50_and_escapes_cells() -> None:
    findings = [
        Finding(
            "CA004",
            "invalid-cidr",
            Severity.ERROR,
            f"bad | cidr <{i}>",
            Location("p.yaml", Span(i + 1, 1, i + 1, 2)),
            f"{i:032x}",
        )
        for i in range(57)
    ]
    md = render(make_result(findings), "markdown")
    rows = [line for line in md.splitlines() if line.startswith("| `p.yaml:")]
    assert len(rows) == 50
    assert rows[0] == "| `p.yaml:1` | CA004 invalid-cidr | bad \\| cidr &lt;0&gt; |"
    assert "… and 7 more." in md


def test_markdown_calls_the_exposure_hook(result: AuditResult, monkeypatch: pytest.MonkeyPatch) -> None:
    assert markdown.exposure_section(result) == ""
    monkeypatch.setattr(markdown, "exposure_section", lambda res: "### Exposure\n\n```mermaid\ngraph LR\n```\n")
    md = render(result, "markdown")
    assert "```mermaid\ngraph LR\n```" in md
    assert md.index("### Exposure") < md.index("### Findings that fail the run")


# ------------------------------------------------------------------------------------------
# The fix text: shown apart from the message by every reporter
# ------------------------------------------------------------------------------------------

CIDR_FIX = "Write the network with a prefix length of at most 32 (guide cluster mode, step 2)."


def fixed_result() -> AuditResult:
    """The realistic result, with a fix text on the invalid CIDR finding."""
    findings = [dataclasses.replace(f, fix=CIDR_FIX) if f.fingerprint == "4a1d" * 8 else f for f in base_findings()]
    return make_result(findings)


def test_console_shows_the_fix_on_its_own_line() -> None:
    lines = console(fixed_result()).splitlines()
    start = lines.index(f"{POLICY_PATH}:12:16: error CA004 invalid-cidr")
    note = lines.index(f"     = note: the Service's cluster IP at {SERVICE_PATH}:8:14", start)
    # Under the message and its notes, aligned with them, and not inside the message text.
    assert lines[note + 1] == "     = fix: Write the network with a prefix length of at most 32 (guide cluster"
    assert lines[note + 2] == "            mode, step 2)."
    message = " ".join(line.strip() for line in lines[start + 1 : start + 3])
    assert message == CIDR_MESSAGE
    assert sum("= fix:" in line for line in lines) == 1  # the other findings have none
    coloured = render(fixed_result(), "console", color=True, width=80)
    assert ANSI.sub("", coloured) == console(fixed_result())


def test_json_fix_field() -> None:
    data = jsonfmt.build(fixed_result())
    by_print = {f["fingerprint"]: f for f in data["findings"]}
    assert by_print["4a1d" * 8]["fix"] == CIDR_FIX
    assert by_print["4a1d" * 8]["message"] == CIDR_MESSAGE
    assert {f["fix"] for fp, f in by_print.items() if fp != "4a1d" * 8} == {""}
    assert list(by_print["4a1d" * 8]).index("fix") == list(by_print["4a1d" * 8]).index("message") + 1


def test_sarif_fix_in_properties_and_valid() -> None:
    log = sarif.build(fixed_result())
    results = log["runs"][0]["results"]
    cidr = next(r for r in results if r["partialFingerprints"]["calicoAudit/v1"] == "4a1d" * 8)
    assert cidr["message"] == {"text": CIDR_MESSAGE}  # the message stays the message
    assert cidr["properties"]["fix"] == CIDR_FIX
    assert "fixes" not in cidr  # a text-only fix has no artifactChanges: not a SARIF fix object
    assert all("fix" not in r.get("properties", {}) for r in results if r is not cidr)
    assert schema_errors(log) == []


def test_github_annotation_ends_with_the_fix() -> None:
    lines = render(fixed_result(), "github").splitlines()
    assert lines[0].endswith(
        f"%0A= note: the Service's cluster IP at {SERVICE_PATH}:8:14%0A= fix: " + github.escape_data(CIDR_FIX)
    )
    assert all("= fix:" not in line for line in lines[1:])


def test_markdown_cell_carries_the_fix() -> None:
    lines = render(fixed_result(), "markdown").splitlines()
    assert f"| `{POLICY_PATH}:12` | CA004 invalid-cidr | {CIDR_MESSAGE}<br>**Fix:** {CIDR_FIX} |" in lines
    odd = [dataclasses.replace(f, fix="Use a | b <script>") for f in base_findings()]
    md = render(make_result(odd), "markdown")
    assert "**Fix:** Use a \\| b &lt;script&gt;" in md and "<script>" not in md
