"""Findings stay identical across refactors: SARIF of ``examples/`` and the real corpus, per project.

Both compare a fresh run with the stored copy in ``tests/data/golden/`` (fingerprints and messages
included). A deliberate change regenerates it with ``python -m tests.golden`` and shows in the diff.
"""

from __future__ import annotations

import json

import pytest

from tests.golden import CORPUS, GOLDEN, corpus_digest, examples_sarif


def test_examples_sarif_is_unchanged() -> None:
    stored = json.loads((GOLDEN / "examples.sarif").read_text(encoding="utf-8"))
    assert examples_sarif() == stored


def test_corpus_findings_are_unchanged() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/real is not beside the repository")
    stored = json.loads((GOLDEN / "corpus.json").read_text(encoding="utf-8"))
    fresh = corpus_digest()
    assert sorted(fresh) == sorted(stored)
    for project in stored:
        assert fresh[project] == stored[project], project
