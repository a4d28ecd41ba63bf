"""Loader parity with calicoctl: case variants of top-level keys and top-level lists of resources.

calicoctl reads ``apiVersion``/``kind`` exactly, then decodes the typed resource with Go's
``encoding/json``, which matches field names case-insensitively, so ``Spec:`` is applied as
``spec:``. It also applies a file whose top level is a list of resources. kubectl does neither.
"""

from __future__ import annotations

from pathlib import Path

from auditor.load import SourceFile, parse_text, resources_of
from tests.conftest import places, run_files

CAPITALISED = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
Metadata:
  name: capitalised
  annotations: {owner: net}
Spec:
  selector: k8s-role == 'node'
  preDNAT: true
  ingress:
  - action: Allow
    source:
      nets: [10.0.0.0/8]
"""

TOP_LEVEL_LIST = """\
# calicoctl applies a list of resources like a List
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkPolicy
  metadata:
    name: first
  spec:
    selector: all()
    preDNAT: true
    ingress:
    - action: Deny
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkSet
  metadata: {name: second}
  spec:
    nets: [10.0.0.300/8]
"""


def _policies(result: object) -> dict[str, object]:
    return {p.name: p for p in result.model.policies}  # type: ignore[attr-defined]


def test_capitalised_spec_is_reported_and_still_modelled(tmp_path: Path) -> None:
    result = run_files(tmp_path, {"gnp.yaml": CAPITALISED})
    # The schema check still reports the spelling, on the keys as written.
    assert places(result, "CA002") == ["gnp.yaml:3:1", "gnp.yaml:6:1"]
    messages = [f.message for f in result.findings if f.rule_id == "CA002"]
    assert "the field is `metadata`" in messages[0] and "the field is `spec`" in messages[1]
    # ...and the policy is modelled from what calicoctl decodes: name, annotations and rules.
    policy = _policies(result)["capitalised"]
    assert policy.annotations == {"owner": "net"}  # type: ignore[attr-defined]
    assert policy.pre_dnat is True  # type: ignore[attr-defined]
    assert len(policy.ingress) == 1  # type: ignore[attr-defined]
    # A semantic rule fires on it, pointing into the `Spec:` block as written.
    assert places(result, "CA202") == ["gnp.yaml:8:3"]
    assert policy.ptr("spec", "ingress", 0).path == ("Spec", "ingress", 0)  # type: ignore[attr-defined]


def test_other_case_variants_and_the_exact_key_winning(tmp_path: Path) -> None:
    upper = CAPITALISED.replace("Metadata:", "METADATA:").replace("Spec:", "sPeC:")
    result = run_files(tmp_path, {"gnp.yaml": upper})
    assert places(result, "CA002") == ["gnp.yaml:3:1", "gnp.yaml:6:1"]
    assert "capitalised" in _policies(result)
    assert places(result, "CA202") == ["gnp.yaml:8:3"]
    # When `spec:` is written too, it is the spec; the variant is only an unknown field.
    both = CAPITALISED.replace("Metadata:", "metadata:") + "spec:\n  selector: all()\n"
    (doc,), _ = parse_text(SourceFile("b.yaml", None, both))
    (raw,), _ = resources_of(doc, frozenset())
    assert raw.renamed is None and raw.data["spec"] == {"selector": "all()"}


def test_case_variants_are_not_decoded_for_kubectl_api_groups(tmp_path: Path) -> None:
    # crd.projectcalico.org/v1 and Kubernetes kinds go through kubectl and the API server, which
    # are case-sensitive: `Spec:` is an unknown field there, not the spec.
    crd = CAPITALISED.replace("projectcalico.org/v3", "crd.projectcalico.org/v1")
    result = run_files(tmp_path, {"gnp.yaml": crd})
    assert places(result, "CA002") == ["gnp.yaml:3:1", "gnp.yaml:6:1"]
    assert places(result, "CA202") == []
    (doc,), _ = parse_text(SourceFile("c.yaml", None, crd))
    (raw,), _ = resources_of(doc, frozenset())
    assert raw.renamed is None and "spec" not in raw.data


def test_top_level_list_yields_every_resource_with_positions(tmp_path: Path) -> None:
    (doc,), problems = parse_text(SourceFile("list.yaml", None, TOP_LEVEL_LIST))
    assert problems == []
    raws, is_resource = resources_of(doc, frozenset())
    assert is_resource
    assert [(r.base, r.data["kind"], r.data["metadata"]["name"]) for r in raws] == [
        ((0,), "GlobalNetworkPolicy", "first"),
        ((1,), "GlobalNetworkSet", "second"),
    ]
    where = [doc.locate(r.base + ("kind",)) for r in raws]
    assert [(s.line, s.column) for s in where] == [(3, 9), (12, 9)]
    name = doc.locate(raws[1].base + ("metadata", "name"))
    assert (name.line, name.column) == (13, 20)  # `second` in `  metadata: {name: second}`

    result = run_files(tmp_path, {"list.yaml": TOP_LEVEL_LIST})
    assert result.stats.resources == 2 and result.stats.skipped_documents == 0
    assert sorted(r.name for r in result.model.resources) == ["first", "second"]
    assert places(result, "CA202") == ["list.yaml:8:5"]
    assert places(result, "CA004") == ["list.yaml:15:12"]


def test_a_top_level_list_of_other_things_is_still_skipped(tmp_path: Path) -> None:
    result = run_files(tmp_path, {"values.yaml": "- a\n- {name: b}\n- [1, 2]\n"})
    assert result.findings == []
    assert result.stats.resources == 0 and result.stats.skipped_documents == 1
