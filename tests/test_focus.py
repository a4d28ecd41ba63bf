"""A focused run (``audit --pre-commit``: only the changed files' findings are reported) reports exactly
what a full run reports in those files.

Rules may skip subjects whose findings would lie outside the focus (``Context.in_focus``); these tests
prove that skipping never changes a reported finding: for every rule example, ``examples/``, every
project of the real corpus and a generated repository, the files are split into groups, each group is
audited as the focus, and each focused run must equal the full run's findings in that group, field by
field (place, message, fix, fingerprint, witness, related places, suppression).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.catalog import all_rules
from auditor.config import Config, from_mapping
from auditor.engine import resolve, sub_id
from auditor.findings import Finding
from auditor.run import audit
from tests.conftest import run_files

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "real"
GROUPS = 3


def _autofix(f: Finding) -> object:
    """The edits of an autofix as places and values (a Pointer holds its run's Document object)."""
    if f.autofix is None:
        return None
    edits = tuple(
        (e.op, resolve(e.at), e.key, repr(e.value), e.index, e.quote, e.after) for e in f.autofix.edits
    )
    return f.autofix.description, f.autofix.safe, edits


def _digest(f: Finding) -> tuple[object, ...]:
    return (
        f.rule_id, sub_id(f), f.location, f.severity, f.message, f.fix, f.fingerprint, f.identity,
        f.field_path, f.related, f.witness, f.suppression, _autofix(f), f.cluster, f.clusters, f.internal_error,
    )


def _group(path: str, groups: int) -> int:
    return zlib.crc32(path.encode()) % groups


def _focus_sets(paths: list[str]) -> Iterator[frozenset[str]]:
    """Each file alone when there are few, else a split into GROUPS groups; and the empty focus."""
    if len(paths) <= 6:
        yield from (frozenset({p}) for p in paths)
    else:
        for g in range(GROUPS):
            yield frozenset(p for p in paths if _group(p, GROUPS) == g)
    yield frozenset()


def check_focus(inputs: list[str], config: Config, root: Path) -> int:
    """Audit ``inputs`` (relative to ``root``) fully, then focused on each focus set; returns the focused runs."""
    old = os.getcwd()
    os.chdir(root)
    try:
        return _check_focus(inputs, config)
    finally:
        os.chdir(old)


def _check_focus(inputs: list[str], config: Config) -> int:
    full = audit(inputs, config, debug=True)
    paths = sorted({f.path for f in full.load.files} | {f.location.path for f in full.findings})
    runs = 0
    for focus in _focus_sets(paths):
        focused = audit(inputs, config, debug=True, focus=focus)
        expected = [_digest(f) for f in full.findings if f.location.path in focus or f.internal_error]
        assert [_digest(f) for f in focused.findings] == expected, sorted(focus)
        runs += 1
    return runs


EXAMPLES = [(rule.id, example) for rule in all_rules() for example in rule.examples if example.failing]


@pytest.mark.parametrize(("rule_id", "example"), EXAMPLES, ids=[e.source for _, e in EXAMPLES])
def test_rule_example_focused(rule_id: str, example: object, tmp_path: Path) -> None:
    run_files(tmp_path, example.files, example.config)  # type: ignore[attr-defined]
    assert check_focus(["."], from_mapping(example.config or {}), tmp_path) >= 2  # type: ignore[attr-defined]


def test_bundled_examples_focused() -> None:
    assert check_focus(["examples"], from_mapping({}), ROOT) == GROUPS + 1


PROJECTS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


@pytest.mark.skipif(not PROJECTS, reason="the real corpus (../shared/corpus/real) is not beside the repository")
@pytest.mark.parametrize("project", PROJECTS)
def test_corpus_project_focused(project: str) -> None:
    assert check_focus([project], from_mapping({}), CORPUS) >= 2


def test_generated_repository_focused(tmp_path: Path) -> None:
    """The benchmark's synthetic GitOps repository (1k documents, with its deliberate mistakes)."""
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--docs", "1000", "--seed", "3",
         "--out", str(tmp_path / "repo")],
        check=True, capture_output=True,
    )
    assert check_focus(["."], from_mapping({}), tmp_path / "repo") == GROUPS + 1


def test_focus_skips_work() -> None:
    """The point of the focus: a rule checks fewer subjects (here CA002's schema validation is not
    even asked about the files outside it)."""
    from auditor import schema

    calls: list[str] = []
    original = schema.validate

    def counting(api: str, kind: str, data: object) -> object:
        calls.append(kind)
        return original(api, kind, data)  # type: ignore[arg-type]

    old = os.getcwd()
    os.chdir(ROOT)
    schema.validate = counting  # type: ignore[assignment]
    try:
        audit(["examples"], from_mapping({"select": ["CA002"]}))
        everything = len(calls)
        calls.clear()
        audit(["examples"], from_mapping({"select": ["CA002"]}), focus={"examples/cluster-mode/services.yaml"})
        assert 0 < len(calls) < everything
    finally:
        schema.validate = original  # type: ignore[assignment]
        os.chdir(old)


def test_in_focus_semantics() -> None:
    """No focus: everything. A focus: the resources written in its files, and every rendered document
    (its fields are placed at their sources, which may be several files)."""
    from types import SimpleNamespace

    from auditor.context import Context
    from auditor.load import LoadResult
    from auditor.model import build_model

    def resource(path: str, origin: object = None) -> object:
        doc = SimpleNamespace(file=SimpleNamespace(path=path), origin=origin)
        return SimpleNamespace(raw=SimpleNamespace(doc=doc))

    a, b, rendered = resource("a.yaml"), resource("b.yaml"), resource("chart/out.yaml", origin=object())
    loaded = LoadResult()
    everything = Context(load=loaded, model=build_model([], None), config=from_mapping({}))
    assert everything.in_focus(a) and everything.focused([a, b]) == [a, b]
    focused = Context(load=loaded, model=build_model([], None), config=from_mapping({}), focus=frozenset({"a.yaml"}))
    assert focused.in_focus(a) and not focused.in_focus(b) and focused.in_focus(b, a)
    assert focused.in_focus(rendered) and not focused.in_focus()
    assert focused.focused([b, a, rendered]) == [a, rendered]


def test_focus_keeps_numbered_fingerprints(tmp_path: Path) -> None:
    """Two definitions of one policy, each with the same mistake on the same field: their fingerprints
    are numbered across the files, so a run focused on the second file still gives it the second one."""
    policy = """apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-clients
spec:
  selector: all()
  ingress:
  - action: Allow
    source:
      nets: [10.0.0.300/24]
"""
    full = run_files(tmp_path, {"a.yaml": policy, "b.yaml": policy})
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        focused = audit(["."], from_mapping({}), debug=True, focus={"b.yaml"})
    finally:
        os.chdir(old)
    mine = [f for f in full.findings if f.rule_id == "CA004"]
    assert [f.location.path for f in mine] == ["a.yaml", "b.yaml"] and mine[0].fingerprint != mine[1].fingerprint
    assert [f.fingerprint for f in focused.findings if f.rule_id == "CA004"] == [mine[1].fingerprint]
    assert check_focus(["."], from_mapping({}), tmp_path) == 3
