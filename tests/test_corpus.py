"""Every file of the real-world corpus is processed without a crash, as one repository and per project."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from auditor.run import audit
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "real"


def _corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/real is not beside the repository")
    return CORPUS


def test_the_whole_corpus_as_one_repository() -> None:
    corpus = _corpus()
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    result = audit([str(corpus)], debug=True)  # debug: a crash inside a rule fails the test
    assert not result.internal_errors
    assert result.stats.files == len(files)
    loaded = {d.file.path for d in result.load.documents}
    failed = {f.location.path for f in result.findings if f.rule_id == "CA001"}
    assert {str(p) for p in files} <= {os.path.abspath(x) for x in loaded | failed}
    counts = Counter(f.rule_id for f in result.findings)
    # Parse failures in the corpus are findings, not exceptions (some files do not parse on purpose).
    assert counts["CA001"] >= 1 and counts["CA002"] >= 1 and counts["CA004"] >= 1


@pytest.mark.parametrize("project", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else [])
def test_each_project_on_its_own(project: str) -> None:
    result = audit([str(_corpus() / project)], debug=True)
    assert not result.internal_errors
    for finding in result.findings:
        assert finding.location.span.line >= 1 and finding.location.span.column >= 1
        assert finding.message
