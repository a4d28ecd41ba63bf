"""One Kubernetes qualified-name check behind both the Calico validator's wording and the label-selector errors."""

from __future__ import annotations

import pytest

from auditor import selector as sel
from auditor.calico_validation import label_key_problem, label_value_problem
from auditor.k8snames import NameFault, is_subdomain, label_value_fault, qualified_name_fault


@pytest.mark.parametrize(
    ("key", "fault"),
    [
        ("app", None),
        ("projectcalico.org/name", None),
        ("a/b/c", NameFault.SLASHES),
        ("/x", NameFault.EMPTY_PREFIX),
        ("a" * 254 + "/x", NameFault.LONG_PREFIX),
        ("Bad_Prefix/x", NameFault.BAD_PREFIX),
        ("example.com/", NameFault.EMPTY_NAME),
        ("x" * 64, NameFault.LONG_NAME),
        ("-x", NameFault.BAD_NAME),
        ("app\n", NameFault.BAD_NAME),  # Go's regexp: no "$ before a final newline"
    ],
)
def test_qualified_name_faults(key: str, fault: NameFault | None) -> None:
    assert qualified_name_fault(key) is fault
    assert (label_key_problem(key) is None) is (fault is None)


def test_both_wordings_name_the_same_fault() -> None:
    assert label_key_problem("a/b/c") == "has more than one '/'"
    assert label_key_problem("Bad_Prefix/x") == "has an invalid prefix `Bad_Prefix` (it must be a lower-case DNS subdomain)"
    assert label_key_problem("x" * 64) == "has a name part of 64 characters (at most 63)"
    with pytest.raises(sel.LabelSelectorError, match="at most one '/'"):
        sel.from_label_selector({"matchLabels": {"a/b/c": "x"}})
    with pytest.raises(sel.LabelSelectorError, match="must be a DNS subdomain"):
        sel.from_label_selector({"matchLabels": {"Bad_Prefix/x": "x"}})


def test_label_values_and_subdomains() -> None:
    assert label_value_fault("") is None and label_value_fault("a.b-c_d") is None
    assert label_value_fault("v" * 64) is NameFault.LONG_NAME and label_value_fault("-v") is NameFault.BAD_NAME
    assert label_value_problem("v" * 64) == "is 64 characters long (at most 63)"
    with pytest.raises(sel.LabelSelectorError, match="a label value must be at most 63 characters"):
        sel.from_label_selector({"matchLabels": {"app": "v" * 64}})
    assert is_subdomain("node-1.example.com") and not is_subdomain("Node_1") and not is_subdomain("a" * 254)
