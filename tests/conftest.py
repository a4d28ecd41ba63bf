"""Shared test helpers: run the real engine on in-memory manifest sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from auditor.config import from_mapping
from auditor.run import AuditResult, audit

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def run_files(
    tmp_path: Path,
    files: Mapping[str, str],
    settings: Mapping[str, object] | None = None,
    paths: list[str] | None = None,
) -> AuditResult:
    """Write ``files`` under tmp_path and audit them with the working directory there."""
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return audit(paths or ["."], from_mapping(settings or {}), debug=True)
    finally:
        os.chdir(old)


def places(result: AuditResult, rule_id: str) -> list[str]:
    return sorted(
        f"{f.location.path}:{f.location.span.line}:{f.location.span.column}"
        for f in result.findings
        if f.rule_id == rule_id
    )


@pytest.fixture
def audit_files(tmp_path: Path):
    def _run(files: Mapping[str, str], settings: Mapping[str, object] | None = None) -> AuditResult:
        return run_files(tmp_path, files, settings)

    return _run
