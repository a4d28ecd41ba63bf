"""Selection through the model's label index: the same answers, in the same order, as a scan."""

from __future__ import annotations

import random

import pytest

from auditor import selector as sel
from auditor.model.index import LabelIndex

SELECTORS = [
    "all()",
    "k8s-role == 'node'",
    "k8s-role == 'node' && zone == 'a'",
    "zone in {'a', 'b'}",
    "zone not in {'a'}",
    "has(rack)",
    "!has(rack)",
    "k8s-role != 'node'",
    "rack == 'r1' || zone == 'c'",
    "!(zone == 'a')",
    "k8s-role starts with 'no'",
    "global()",
    "has(missing)",
    "zone == 'a' && zone == 'b'",
]


def _labels(rng: random.Random) -> dict[str, str]:
    labels = {"k8s-role": rng.choice(["node", "worker"])}
    if rng.random() < 0.7:
        labels["zone"] = rng.choice("abc")
    if rng.random() < 0.4:
        labels["rack"] = f"r{rng.randint(0, 2)}"
    return labels


@pytest.mark.parametrize("seed", range(5))
def test_selection_equals_a_scan_in_order(seed: int) -> None:
    rng = random.Random(seed)
    items = [(_labels(rng), f"hep-{i}") for i in range(300)]
    index: LabelIndex[str] = LabelIndex(items)
    assert len(index.classes) < 40  # 300 objects, few distinct label sets
    for text in SELECTORS:
        selector = sel.parse(text)
        expected = [name for labels, name in items if selector.matches(labels)]
        assert index.select(selector) == expected, text
        again = index.select(selector)
        assert again == expected and again is not index.select(selector)  # a fresh list each time


class _Counting:
    """A selector stand-in that counts how often it is evaluated."""

    def __init__(self, text: str) -> None:
        self.inner = sel.parse(text)
        self.calls = 0

    def matches(self, labels: dict[str, str]) -> bool:
        self.calls += 1
        return self.inner.matches(labels)

    def required_labels(self) -> dict[str, frozenset[str] | None] | None:
        return self.inner.required_labels()

    def index_hint(self) -> list[tuple[str, frozenset[str] | None]] | None:
        return self.inner.index_hint()

    def __hash__(self) -> int:
        return hash(self.inner)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Counting) and other.inner == self.inner


def test_a_selector_is_evaluated_once_per_distinct_label_set_and_answered_once() -> None:
    # 3,000 host endpoints in 3 zones, all `k8s-role: node`, plus 10 that are something else.
    items = [({"k8s-role": "node", "zone": "abc"[i % 3]}, i) for i in range(3000)]
    items += [({"app": "x", "i": str(i)}, 3000 + i) for i in range(10)]
    index: LabelIndex[int] = LabelIndex(items)
    node = _Counting("k8s-role == 'node'")
    assert index.select(node) == list(range(3000))  # type: ignore[arg-type]
    assert node.calls == 3  # one per label set carrying k8s-role=node, not one per endpoint
    index.select(node)  # type: ignore[arg-type]
    assert node.calls == 3  # answered from the memo
    anything = _Counting("!has(zone)")  # nothing required: every class is a candidate, once
    assert index.select(anything) == list(range(3000, 3010))  # type: ignore[arg-type]
    assert anything.calls == 13
