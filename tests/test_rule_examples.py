"""Every example of every rule runs through the real engine and gives exactly its findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.catalog import Example, Rule, all_rules
from tests.conftest import places, run_files

CASES = [(rule, example) for rule in all_rules() for example in rule.examples]


def _expected(example: Example) -> list[str]:
    only = next(iter(example.files)) if len(example.files) == 1 else None
    out = []
    for item in example.expect:
        parts = item.split(":")
        out.append(item if len(parts) == 3 else f"{only}:{item}")
    return sorted(out)


@pytest.mark.parametrize(
    ("rule", "example"), CASES, ids=[f"{r.id}-{'fail' if e.failing else 'pass'}-{e.title}" for r, e in CASES]
)
def test_rule_example(rule: Rule, example: Example, tmp_path: Path) -> None:
    result = run_files(tmp_path, example.files, example.config)
    assert places(result, rule.id) == _expected(example)
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
