"""The loader: exact positions, YAML details Kubernetes cares about, C and pure-Python parity."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.load import SourceFile, parse_text
from tests.conftest import ROOT, SHARED

TEXT = """\
apiVersion: v1
kind: Service
metadata:
  name: a
  labels: &l {app: x, tier: "web"}
spec:
  clusterIP: 10.96.0.10
  ports:
  - port: 80
    targetPort: http
  selector:
    <<: *l
    enabled: yes
  block: |
    line one
"""


def _doc(text: str, pure: bool = False):
    docs, problems = parse_text(SourceFile("t.yaml", None, text), pure=pure)
    return docs, problems


@pytest.mark.parametrize("pure", [False, True])
def test_positions_and_values(pure: bool) -> None:
    (doc,), problems = _doc(TEXT, pure)
    assert problems == []
    assert doc.data["spec"]["selector"] == {"app": "x", "tier": "web", "enabled": True}  # merge key, YAML 1.1 bool
    assert doc.data["spec"]["ports"][0] == {"port": 80, "targetPort": "http"}
    span = doc.locate(("spec", "ports", 0, "targetPort"))
    assert (span.line, span.column, span.end_column) == (10, 17, 21)
    key = doc.locate(("spec", "ports", 0, "targetPort"), on_key=True)
    assert (key.line, key.column, key.end_column) == (10, 5, 15)
    missing = doc.locate(("spec", "externalIPs", 0))  # a missing field points at its parent's key
    assert (missing.line, missing.column) == (6, 1)
    merged = doc.locate(("spec", "selector", "app"))  # a merged value points where it is written
    assert (merged.line, merged.column) == (5, 20)


def test_duplicate_keys_are_reported_and_the_last_wins() -> None:
    (doc,), problems = _doc("a: 1\nb: 2\na: 3\n")
    assert doc.data == {"a": 3, "b": 2}
    assert [(p.code, p.span.line, p.span.column) for p in problems] == [("duplicate-key", 3, 1)]


def test_templates_are_named_as_such() -> None:
    for text, line, column in (
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"x\" . }}\n", 4, 9),
        ("{{- if .Values.enabled }}\napiVersion: v1\nkind: Service\n{{- end }}\n", 1, 1),
    ):
        _, problems = _doc(text)
        assert [(p.code, p.span.line, p.span.column) for p in problems] == [("template", line, column)], text


def test_one_broken_document_does_not_hide_the_others() -> None:
    docs, problems = _doc("---\na: 1\n---\nb: [\n---\nc: 3\n")
    assert [d.data for d in docs] == [{"a": 1}, {"c": 3}]
    assert [p.code for p in problems] == ["syntax"]
    assert docs[1].locate(("c",)).line == 6


def _all_yaml() -> list[Path]:
    roots = [ROOT / "examples", SHARED / "corpus" / "real"]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.y*ml"))


def test_c_and_pure_python_parsers_give_identical_results() -> None:
    files = _all_yaml()
    assert len(files) > 50
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        c_docs, c_problems = _doc(text, pure=False)
        p_docs, p_problems = _doc(text, pure=True)
        assert [d.data for d in c_docs] == [d.data for d in p_docs], path
        assert [list(d.pos) for d in c_docs] == [list(d.pos) for d in p_docs], path
        assert [(p.code, p.span) for p in c_problems] == [(p.code, p.span) for p in p_problems], path


# --- discovery: display and resolved paths worked out per folder ---------------------------------


def _tree(root: Path) -> None:
    for rel in ("a/b/c.yaml", "a/b/d.yml", "a/e.json", "f.yaml", "g h/i.yaml", "a/b/deep/x/y.yaml", "../out/o/p.yaml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", encoding="utf-8")
    (root / "link-dir").symlink_to(root / "a" / "b")  # a folder seen twice: its first path is kept
    (root / "a" / "link.yaml").symlink_to(root / "f.yaml")  # a file seen twice
    (root / "a" / "rel-link.yaml").symlink_to("../g h/i.yaml")
    (root / "a" / "out").symlink_to("../../out")  # a folder outside, reached only through a link


@pytest.mark.parametrize("where", ["root", "inside", "above", "beside"])
def test_discovered_paths_are_the_ones_relpath_and_realpath_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import os

    from auditor.load import Limits, discover, display_path

    root = tmp_path / "repo"
    _tree(root)
    (tmp_path / "other").mkdir()
    cwd = {"root": root, "inside": root / "a" / "b", "above": tmp_path, "beside": tmp_path / "other"}[where]
    monkeypatch.chdir(cwd)
    outside = Limits(follow_symlinks_outside=True)
    for given, limits, count, problems in (
        (str(root), Limits(), 6, 1),  # every file once, under its first path; the outside link reported
        (os.path.relpath(root), outside, 7, 0),
        (str(root / "a") + "/", outside, 7, 0),  # (the links out of a/ are followed)
        (os.path.relpath(root / "a") + "/.", Limits(), 4, 3),
    ):
        candidates, found = discover([given], limits=limits)
        assert (len(candidates), len(found)) == (count, problems), [c.path for c in candidates]
        for c in candidates:
            assert c.shown == display_path(c.path), (given, c.path)
            assert c.real == os.path.realpath(c.path), (given, c.path)
            assert c.size == os.stat(c.real).st_size  # (read_file does not stat the file again)
    if where == "root":
        shown = sorted(c.shown for c in discover(["."], limits=outside)[0])
        assert shown == [
            "a/b/c.yaml",
            "a/b/d.yml",
            "a/b/deep/x/y.yaml",
            "a/e.json",
            "a/link.yaml",
            "a/out/o/p.yaml",
            "a/rel-link.yaml",
        ]
        assert os.path.realpath("a/out/o/p.yaml") == str(tmp_path / "out" / "o" / "p.yaml")
    elif where == "beside":  # outside the working directory: absolute
        assert all(c.shown.startswith(str(root) + "/") for c in discover([str(root)])[0])


def test_a_file_above_the_limit_is_refused_on_the_size_discovery_saw(tmp_path: Path) -> None:
    from auditor.load import Limits, discover, read_file

    (tmp_path / "big.yaml").write_text("a: " + "x" * 100 + "\n", encoding="utf-8")
    (tmp_path / "small.yaml").write_text("a: 1\n", encoding="utf-8")
    limits = Limits(max_file_bytes=50)
    candidates, _ = discover([str(tmp_path)], limits=limits)
    by_name = {Path(c.path).name: c for c in candidates}
    file, big = read_file(by_name["big.yaml"], limits)
    assert big is not None and big.code == "too-large" and "not read" in big.message
    file, problem = read_file(by_name["small.yaml"], limits)
    assert problem is None and file.text == "a: 1\n"
    # Without a size from discovery (a candidate made elsewhere), the file is looked at: the same refusal.
    by_name["big.yaml"].size = -1
    again = read_file(by_name["big.yaml"], limits)[1]
    assert again is not None and (again.code, again.message) == ("too-large", big.message)
    # The size discovery saw is what counts (a file can change at any time; it is read once).
    by_name["small.yaml"].size = 10**9
    refused = read_file(by_name["small.yaml"], limits)[1]
    assert refused is not None and refused.code == "too-large"
