"""Every example of every rule runs through the real engine and gives exactly its findings.

The examples are files under ``rules/examples/<RULE-ID>/`` with ``# expect:`` markers (docs/rule-examples.md);
the second half of this module tests the marker parser itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.catalog import (
    Example,
    ExampleError,
    Rule,
    all_rules,
    default_column,
    examples_root,
    known_ids,
    load_example,
    parse_example,
)
from auditor.engine import SUB_ID
from auditor.run import AuditResult
from tests.conftest import places, run_files

CASES = [(rule, example) for rule in all_rules() for example in rule.examples]


def _sub_places(result: AuditResult, sub_id: str) -> list[str]:
    return sorted(
        f"{f.location.path}:{f.location.span.line}:{f.location.span.column}"
        for f in result.findings
        if f.extra.get(SUB_ID) == sub_id
    )


@pytest.mark.parametrize(("rule", "example"), CASES, ids=[e.source for _, e in CASES])
def test_rule_example(rule: Rule, example: Example, tmp_path: Path) -> None:
    result = run_files(tmp_path, example.files, example.config)
    assert places(result, rule.id) == list(example.expect)
    # A marker for another rule, or for a sub-check, holds as exactly as the rule's own.
    for marker_id, where in example.expected.items():
        head = marker_id.partition("/")[0]
        if "/" in marker_id:
            assert _sub_places(result, marker_id) == list(where), marker_id
        if head != rule.id:
            assert places(result, head) == sorted(p for k, v in example.expected.items()
                                                  if k.partition("/")[0] == head for p in v), head
    for finding in result.findings:
        if finding.rule_id == rule.id:
            assert finding.message and finding.severity
            assert not finding.internal_error


def test_every_rule_has_failing_and_passing_examples() -> None:
    for rule in all_rules():
        kinds = {e.failing for e in rule.examples}
        assert kinds == {True, False}, rule.id


def test_rule_ids_and_names_are_unique_and_sorted() -> None:
    rules = all_rules()
    ids = [r.id for r in rules]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len({r.name for r in rules}) == len(rules)


def test_every_example_folder_is_a_rule_and_every_marker_names_a_known_id() -> None:
    ids = known_ids()
    folders = {p.name for p in examples_root().iterdir() if p.is_dir() and p.name != "_base"}
    assert folders == {r.id for r in all_rules()}
    for _, example in CASES:
        assert set(example.expected) <= ids, example.source


def test_examples_include_the_shared_base_by_name_and_keep_it_out_of_their_own_files() -> None:
    base = (examples_root() / "_base" / "cluster.yaml").read_text(encoding="utf-8")
    including = [e for _, e in CASES if "cluster" in e.includes]
    assert len(including) >= 20
    for example in including:
        assert example.files["cluster.yaml"] == base
        assert "cluster.yaml" not in example.own_files


# ------------------------------------------------------------------------------------------
# The marker parser
# ------------------------------------------------------------------------------------------

POLICY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  selector: k8s-role == 'node'
  ingress:
  - action: Allow
    destination:
      nets: [10.20.30.40/32, 10.20.0.0/16]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _with(line: int, suffix: str, text: str = POLICY) -> str:
    lines = text.split("\n")
    lines[line - 1] += suffix
    return "\n".join(lines)


def test_default_column_is_the_first_key_or_scalar_after_dashes() -> None:
    assert default_column("spec:") == 1
    assert default_column("      nets: [10.0.0.0/8]") == 7
    assert default_column("  - action: Allow") == 5
    assert default_column("  - - 10.0.0.1") == 7
    assert default_column("- {port: 443}") == 3


def test_trailing_marker_strips_to_the_original_line_and_points_at_the_field() -> None:
    parsed = parse_example(_with(10, "  # expect: CA201"))
    assert parsed.text == POLICY
    assert parsed.marks == [(10, 7, "CA201")]
    parsed = parse_example(_with(8, "  # expect: CA201, CA202"))
    assert parsed.text == POLICY and parsed.marks == [(8, 5, "CA201"), (8, 5, "CA202")]


def test_caret_marker_gives_the_column_and_disappears_from_the_audited_text() -> None:
    lines = POLICY.split("\n")
    lines.insert(10, "      #" + " " * 22 + "^ CA004")
    lines.insert(10, "      #      ^ CA201")
    parsed = parse_example("\n".join(lines))
    assert parsed.text == POLICY  # line numbers below a caret line do not move
    assert parsed.marks == [(10, 14, "CA201"), (10, 30, "CA004")]
    assert POLICY.split("\n")[9][13:27] == "10.20.30.40/32" and POLICY.split("\n")[9][29:] == "10.20.0.0/16]"


def test_header_directives_are_read_and_removed() -> None:
    text = "# title: t\n# include: cluster, svc-a\n# config: {\"cluster.kube-proxy-mode\": \"ipvs\"}\n" + POLICY
    parsed = parse_example(text)
    assert parsed.text == POLICY
    assert parsed.directives == [("title", "t"), ("include", "cluster, svc-a"),
                                 ("config", '{"cluster.kube-proxy-mode": "ipvs"}')]


def test_load_example_with_include_config_sub_id_and_another_rules_marker(tmp_path: Path) -> None:
    _write(tmp_path, "_base/cluster.yaml", "kind: BGPConfiguration\n")
    text = "# title: t\n# include: cluster\n# config: {\"cluster\": {\"node-port-range\": \"30000-30999\"}}\n"
    text += _with(10, "  # expect: CA201, CA007/policy-nets, CA202").replace("  - action: Allow", "  - action: Allow  # expect: CA202")
    example = load_example("CA201", _write(tmp_path, "CA201/01-x.yaml", text), tmp_path)
    assert example.files == {"cluster.yaml": "kind: BGPConfiguration\n", "policy.yaml": POLICY}
    assert example.own_files == {"policy.yaml": POLICY}
    assert example.config == {"cluster": {"node-port-range": "30000-30999"}}
    assert example.expect == ("policy.yaml:10:7",) and example.failing  # only the rule's own markers
    assert example.expected == {"CA007/policy-nets": ("policy.yaml:10:7",), "CA201": ("policy.yaml:10:7",),
                                "CA202": ("policy.yaml:10:7", "policy.yaml:8:5")}
    assert example.source == "CA201/01-x.yaml"


def test_an_example_without_markers_for_its_rule_is_passing(tmp_path: Path) -> None:
    text = "# title: passes\n" + _with(10, "  # expect: CA202")
    example = load_example("CA201", _write(tmp_path, "CA201/02-p.yaml", text), tmp_path)
    assert not example.failing and example.expect == () and example.expected == {"CA202": ("policy.yaml:10:7",)}


def test_folder_example_expect_at_and_file_names(tmp_path: Path) -> None:
    _write(tmp_path, "CA006/01-dup/a.yaml", "# title: across files\n" + POLICY)
    _write(tmp_path, "CA006/01-dup/sub/b.yaml", _with(4, "  # expect: CA006"))
    _write(tmp_path, "CA001/01-eof.yaml", "# title: eof\n# file: t/p.yaml\n# expect-at: 3:1 CA001\nkind: [x\n")
    dup = load_example("CA006", tmp_path / "CA006" / "01-dup", tmp_path)
    assert dup.files == {"a.yaml": POLICY, "sub/b.yaml": POLICY} and dup.expect == ("sub/b.yaml:4:3",)
    eof = load_example("CA001", tmp_path / "CA001" / "01-eof.yaml", tmp_path)
    assert eof.files == {"t/p.yaml": "kind: [x\n"} and eof.expect == ("t/p.yaml:3:1",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_with(10, "  # expect CA201"), "malformed marker"),
        (_with(10, "  # expect: ca201"), "malformed marker"),
        (_with(10, "  # expect: CA201,"), "malformed marker"),
        ("# title: t\n" + POLICY + "      # ^CA201\n", "malformed marker"),
        ("# title: t\n#  ^ CA201\n" + POLICY, "needs a line above it"),
        (POLICY, "no `# title:`"),
        ("# title: t\n# include: nope\n" + POLICY, "unknown include 'nope'"),
        ("# title: t\n# config: [1]\n" + POLICY, "not a JSON object"),
        ("# title: t\n# config: {x\n" + POLICY, "not a JSON object"),
        ("# title: t\n# expect-at: other.yaml:1:1 CA201\n" + POLICY, "malformed `# expect-at"),
        ("# title: t\n# expect-at: 1 CA201\n" + POLICY, "malformed `# expect-at"),
        ("# title: t\n# title: u\n" + POLICY, "given twice"),
    ],
)
def test_malformed_examples_are_refused_with_the_place(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, "_base/cluster.yaml", "kind: BGPConfiguration\n")
    path = _write(tmp_path, "CA201/01-bad.yaml", text if text.startswith("# title") or text == POLICY
                  else "# title: t\n" + text)
    with pytest.raises(ExampleError, match=message) as info:
        load_example("CA201", path, tmp_path)
    assert "CA201/01-bad.yaml" in str(info.value)


def test_a_rule_needs_a_failing_and_a_passing_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor import catalog

    _write(tmp_path, "CA201/01-only-passing.yaml", "# title: t\n" + POLICY)
    monkeypatch.setattr(catalog, "examples_root", lambda: tmp_path)
    catalog.examples_for.cache_clear()
    try:
        with pytest.raises(ExampleError, match="at least one failing and one passing"):
            catalog.examples_for("CA201")
    finally:
        catalog.examples_for.cache_clear()
