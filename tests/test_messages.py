"""Messages say what is wrong and why, in one or two sentences; what to do is the finding's ``fix``.

Checked on every finding of ``examples/`` and of every rule's own examples, for the rules whose messages
have been split so far (the others join ``SPLIT`` as theirs are).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from auditor.catalog import all_rules
from auditor.config import from_mapping
from auditor.findings import Finding
from auditor.run import audit
from tests.conftest import run_files

ROOT = Path(__file__).resolve().parent.parent

#: Rules whose messages carry no remedy (prefixes of rule IDs).
SPLIT = ("CA001", "CA002", "CA003", "CA004", "CA005", "CA006", "CA007", "CA008", "CA1", "CA2", "CA3", "CA4")
#: Rules that always say what to do: every finding has a fix.
ALWAYS_FIX = ("CA006", "CA008", "CA1", "CA2", "CA3", "CA4")

# A sentence ends at ". ", "! " or "? " before a capital, a backtick or a quote ("e.g. `x`" does not).
SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)[.!?]\s+(?=[A-Z`\"'])")
REMEDY = re.compile(r"\bFix:|\bHow to fix\b")


def sentences(text: str) -> int:
    return len(SENTENCE_END.split(text.strip().rstrip(".")))


def _own_words(message: str) -> str:
    """The rule's message without the assumptions the engine appends from the witness."""
    return message.split(". Assumed: ", 1)[0]


def _findings_of_examples(tmp_path: Path) -> list[Finding]:
    out: list[Finding] = []
    for i, rule in enumerate(all_rules()):
        for j, example in enumerate(rule.examples):
            folder = tmp_path / f"{i}-{j}"
            folder.mkdir()
            out += [f for f in run_files(folder, example.files, example.config).findings if f.rule_id == rule.id]
    return out


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        on_examples = audit(["examples"], from_mapping({})).findings
    finally:
        os.chdir(old)
    return [*on_examples, *_findings_of_examples(tmp_path_factory.mktemp("rule-examples"))]


def test_messages_are_short_and_carry_no_remedy(findings: list[Finding]) -> None:
    checked = [f for f in findings if f.rule_id.startswith(SPLIT) and not f.internal_error]
    assert {f.rule_id for f in checked} >= {"CA101", "CA201", "CA204", "CA208"}  # the examples do exercise them
    for f in checked:
        own = _own_words(f.message)
        assert not REMEDY.search(f.message), (f.rule_id, f.message)
        assert sentences(own) <= 2, (f.rule_id, own)
        assert not own.endswith("."), (f.rule_id, own)  # the engine appends ". Assumed: …" to a bare message
        if f.fix:
            assert f.fix not in f.message, (f.rule_id, f.fix)


def test_rules_with_a_remedy_give_one_imperative_sentence(findings: list[Finding]) -> None:
    remedied = [f for f in findings if f.rule_id.startswith(ALWAYS_FIX) and not f.internal_error]
    assert len({f.rule_id for f in remedied}) >= 12
    for f in remedied:
        assert f.fix, (f.rule_id, f.message)
    for f in findings:
        if not f.fix:
            continue
        assert f.fix[0].isupper() and f.fix.endswith("."), (f.rule_id, f.fix)
        assert sentences(f.fix) == 1, (f.rule_id, f.fix)


def test_guide_steps_are_named_in_the_fix_not_the_message(findings: list[Finding]) -> None:
    for f in findings:
        if f.rule_id.startswith(SPLIT):
            assert "(guide cluster mode" not in f.message, (f.rule_id, f.message)
    guided = {f.rule_id for f in findings if "(guide cluster mode, step" in f.fix}
    assert guided >= {"CA101", "CA201", "CA202", "CA204", "CA205"}


def test_sentence_counting() -> None:
    assert sentences("a is wrong: b (e.g. 10.0.0.1 -> 10.0.0.2:80/TCP is allowed)") == 1
    assert sentences("a is dropped: X denies. Pod traffic dies (IPPool p routes it)") == 2
    assert sentences("x. `y` is z. Why") == 3
    assert sentences("Render it first, e.g. `helm template RELEASE CHART | audit -`.") == 1
