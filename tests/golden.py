"""The stored findings that refactors must not change: SARIF of ``examples/`` and a digest of the real corpus.

``python -m tests.golden`` rewrites the stored copies (``tests/data/golden/``); ``tests/test_golden.py``
compares a fresh run with them. Regenerate only on purpose, and read the diff: a refactor that moves a
finding, changes a fingerprint or a message shows up there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from auditor.config import from_mapping
from auditor.report.sarif import render as render_sarif
from auditor.run import audit

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
CORPUS = ROOT.parent / "shared" / "corpus" / "real"


def examples_sarif() -> dict[str, Any]:
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        result = audit(["examples"], from_mapping({}))
        return json.loads(render_sarif(result))
    finally:
        os.chdir(old)


def corpus_digest() -> dict[str, list[dict[str, Any]]]:
    """Per project: every finding's rule, place, fingerprint, severity, message and fix (when it has one)."""
    out: dict[str, list[dict[str, Any]]] = {}
    old = os.getcwd()
    os.chdir(CORPUS)
    try:
        for project in sorted(p.name for p in CORPUS.iterdir() if p.is_dir()):
            result = audit([project], from_mapping({}))
            out[project] = [
                {
                    "rule": f.rule_id,
                    "at": f"{f.location.path}:{f.location.span.line}:{f.location.span.column}",
                    "severity": f.severity.name.lower(),
                    "fingerprint": f.fingerprint,
                    "message": f.message,
                    **({"fix": f.fix} if f.fix else {}),
                }
                for f in result.findings
            ]
    finally:
        os.chdir(old)
    return out


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    (GOLDEN / "examples.sarif").write_text(json.dumps(examples_sarif(), indent=1, sort_keys=True) + "\n")
    if CORPUS.is_dir():
        (GOLDEN / "corpus.json").write_text(json.dumps(corpus_digest(), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
