"""The model keeps answers per distinct input (selector texts, nets, ports, scoping, Kubernetes peers and
ports, nets' integer ranges): a model built with them is the model built computing everything afresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.load import RawResource, load_texts
from auditor.model import KNOWN_KINDS, EntityRule, Policy, Ref, SelectorRef, build_model
from auditor.model.resources import Memo

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# The same blocks written in several policies and namespaces, beside values that are equal in Python but
# not in YAML (1, true, 1.0, "1"), broken selectors, bad CIDRs, named and ranged ports.
CALICO = """\
apiVersion: projectcalico.org/v3
kind: {kind}
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {selector}
  namespaceSelector: {ns_selector}
  serviceAccountSelector: {sa_selector}
  ingress:
  - action: Allow
    protocol: {protocol}
    source:
      selector: {selector}
      notSelector: role == 'db'
      namespaceSelector: {ns_selector}
      serviceAccounts: {{names: [api, {sa_name}], selector: {sa_selector}}}
      nets: {nets}
      notNets: [10.1.0.0/16]
    destination:
      ports: {ports}
      notPorts: [{port}, "30000:32767"]
  - action: Deny
    source: {{}}
    destination: {{nets: {nets}, ports: {ports}}}
  egress:
  - action: Allow
    notProtocol: {protocol}
    destination: {{selector: {selector}, nets: [{net}]}}
"""

K8S = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: {ns}}}
spec:
  podSelector: {pod}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {pod}
    - namespaceSelector: {pod}
      podSelector: {{}}
    - ipBlock: {{cidr: {net}, except: [{net}]}}
    ports:
    - {{port: {port}}}
    - {{port: {port}, endPort: 9000, protocol: UDP}}
  egress:
  - to: [{{namespaceSelector: {{}}}}]
    ports: [{{port: {port}}}]
  - {{}}
"""

# As written in YAML (quoted: they also go into flow mappings); 1 and true are not strings.
SELECTORS = ['"app == \'web\'"', '"all()"', '"has(k8s-role)"', '"app == "', '"global()"', "''", "1", "true"]
SELECTORS += ['"app in {\'a\',\'b\'}"', '"!has(x) && tier != \'db\'"']
NETS = ['["10.0.0.0/8", "192.168.1.0/24"]', "[10.0.0.0/8]", '["10.0.0.1/8"]', "[1]", "[true]", '["x"]', "[]", "7"]
PORTS = ["[80, 443]", '["80"]', "[1]", "[true]", "[1.0]", '["http", "8000:8080"]', "[0]", '["a:b"]', "[]"]
PODS = [
    "{matchLabels: {app: web}}",
    "{matchLabels: {app: '1'}}",
    "{matchLabels: {app: 1}}",
    "{matchLabels: {app: true}}",
    "{matchExpressions: [{key: tier, operator: In, values: [a, b]}]}",
    "{matchExpressions: [{key: tier, operator: Exists}]}",
    "{matchExpressions: [{key: tier, operator: In}]}",
    "{}",
    "[]",
]


def _manifests() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    n = 0
    for ns in ("shop", "web", "ops"):
        for i, selector in enumerate(SELECTORS):
            for j, nets in enumerate(NETS):
                n += 1
                text = CALICO.format(
                    kind=("NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy")[n % 3],
                    name=f"p{n}",
                    ns=ns,
                    selector=selector,
                    ns_selector=SELECTORS[(i + j) % len(SELECTORS)],
                    sa_selector=SELECTORS[(i * 3 + j) % len(SELECTORS)],
                    sa_name=("web", 1, True, "web")[j % 4],
                    protocol=("TCP", 6, "6", True, 1.0)[j % 5],
                    nets=nets,
                    net=("10.2.0.0/16", "10.2.0.1/16", 1)[j % 3],
                    ports=PORTS[(i + j) % len(PORTS)],
                    port=("80", 80, True, "http")[i % 4],
                )
                files[f"{ns}/calico-{n}.yaml"] = text.encode()
        for i, pod in enumerate(PODS):
            n += 1
            text = K8S.format(
                name=f"k{n}", ns=ns, pod=pod, net=("10.3.0.0/16", "10.3.0.1/16", 1)[i % 3], port=(80, "80", True)[i % 3]
            )
            files[f"{ns}/k8s-{n}.yaml"] = text.encode()
    return files


def _ref(ref: Ref[Any] | None) -> object:
    return None if ref is None else (ref.path, type(ref.raw), repr(ref.raw), repr(ref.value), ref.error)


def _selector(ref: SelectorRef | None) -> object:
    if ref is None:
        return None
    return (ref.path, ref.text, str(ref.selector), ref.selector.text if ref.selector else None, str(ref.error))


def _entity(e: EntityRule) -> object:
    return (
        e.path,
        e.present,
        [_ref(r) for r in e.nets],
        [_ref(r) for r in e.not_nets],
        [_selector(s) for s in (e.selector, e.not_selector, e.namespace_selector, e.service_account_selector)],
        [_ref(r) for r in e.ports],
        [_ref(r) for r in e.not_ports],
        e.service_account_names,
        e.services,
        str(e.effective_selector),
        str(e.effective_not_selector),
        e.net_ranges,
        e.not_net_ranges,
    )


def _policy(p: Policy) -> object:
    rules = [
        (r.direction, r.index, r.path, r.action, _ref(r.protocol), _ref(r.not_protocol), r.ip_version)
        + (_entity(r.source), _entity(r.destination), r.icmp, r.has_http)
        for r in p.rules
    ]
    head = (p.identity, p.kind, p.namespace, p.tier, p.order, p.types, p.types_explicit, p.staged, p.is_global)
    selectors = [_selector(s) for s in (p.selector, p.namespace_selector, p.service_account_selector)]
    return (head, selectors, str(p.effective_selector), p.label_selector_errors, rules)


def _described(resources: list[RawResource]) -> list[object]:
    return [_policy(p) for p in build_model(resources).policies]


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kept answer missed: each input computed afresh."""
    monkeypatch.setattr(Memo, "get", lambda self, key, default=None: None)


def test_a_model_built_from_kept_answers_is_the_model_computed_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = load_texts(_manifests(), KNOWN_KINDS).resources
    assert len(resources) == 3 * (len(SELECTORS) * len(NETS) + len(PODS))
    first = _described(resources)  # fills the memos
    kept = _described(resources)  # answered from them
    with monkeypatch.context() as patch:
        _fresh(patch)
        fresh = _described(resources)
    assert kept == first
    assert kept == fresh
    # The inputs are varied enough to mean something: broken selectors, bad nets and ports, and
    # Kubernetes LabelSelectors that do not parse are all there.
    rules = [r for p in build_model(resources).policies for r in p.rules]
    refs = [ref for r in rules for e in (r.source, r.destination) for ref in (*e.nets, *e.ports, *e.not_ports)]
    assert any(ref.error for ref in refs) and any(ref.ok for ref in refs)
    assert any(s.error for r in rules if (s := r.source.selector) is not None)
    assert any(p.label_selector_errors for p in build_model(resources).policies)


def test_values_equal_in_python_but_not_in_yaml_get_their_own_answers() -> None:
    """``1``, ``true``, ``1.0`` and ``"1"`` are one dict key in Python: each must keep its own answer."""
    text = (
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: p{i}}}\n"
        "spec:\n  ingress:\n  - action: Allow\n    destination: {{ports: [{port}], nets: [{net}]}}\n"
    )
    values = ["1", "true", "1.0", "'1'"]
    files = {f"p{i}.yaml": text.format(i=i, port=v, net=v).encode() for i, v in enumerate(values)}
    files["k.yaml"] = b"".join(
        b"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k%d, namespace: a}\n"
        b"spec:\n  podSelector: {matchLabels: {app: %s}}\n  ingress: [{ports: [{port: %s}]}]\n" % (i, v.encode(), v.encode())
        for i, v in enumerate(values)
    )
    model = build_model(load_texts(files, KNOWN_KINDS).resources)
    calico = {p.name: p.ingress[0].destination for p in model.policies if not p.is_kubernetes}
    ports = [(type(calico[f"p{i}"].ports[0].raw), calico[f"p{i}"].ports[0].ok) for i in range(4)]
    assert ports == [(int, True), (bool, False), (float, False), (str, True)]
    assert [calico[f"p{i}"].nets[0].error != "" for i in range(4)] == [True, True, True, True]
    assert len({calico[f"p{i}"].nets[0].error for i in range(4)}) == 4  # each names its own value
    k8s = {p.name: p for p in model.policies if p.is_kubernetes}
    assert [bool(k8s[f"k{i}"].label_selector_errors) for i in range(4)] == [True, True, True, False]
    k8s_ports = [k8s[f"k{i}"].ingress[0].destination.ports[0] for i in range(4)]
    assert [(type(r.raw), r.ok) for r in k8s_ports] == [(int, True), (bool, False), (float, False), (str, True)]


def test_the_real_corpus_builds_the_same_with_and_without_kept_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = SHARED / "corpus" / "real"
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is not here")
    files = {str(p.relative_to(corpus)): p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()}
    resources = load_texts(files, KNOWN_KINDS).resources
    kept = _described(resources)
    with monkeypatch.context() as patch:
        _fresh(patch)
        fresh = _described(resources)
    assert kept and kept == fresh


def test_memo_is_bounded() -> None:
    memo: Memo[int, int] = Memo(limit=3)
    for i in range(10):
        assert memo.keep(i, i * i) == i * i
        assert len(memo) <= 3 and memo[i] == i * i


def test_identity_is_kind_namespace_and_name() -> None:
    files = {
        "a.yaml": b"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n---\n"
        b"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        b"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\n---\n"
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    }
    model = build_model(load_texts(files, KNOWN_KINDS).resources, "dflt")
    assert [r.identity for r in model.resources] == [
        "Service/shop/web",
        "Namespace/shop",
        "GlobalNetworkPolicy/g",
        "Deployment/dflt/d",
    ]
    for r in model.resources:
        expected = f"{r.kind}/{r.namespace}/{r.name}" if r.namespace is not None else f"{r.kind}/{r.name}"
        assert r.identity == expected


def test_advertised_is_the_union_and_follows_a_set_assigned_anew() -> None:
    from netaddr import IPSet

    from auditor.model.facts import ClusterFacts

    facts = ClusterFacts()
    assert facts.advertised == IPSet()
    facts.advertised_cluster = IPSet(["10.96.0.0/12"])
    facts.advertised_lb = IPSet(["192.0.2.0/24"])
    first = facts.advertised
    assert first == IPSet(["10.96.0.0/12", "192.0.2.0/24"])
    assert facts.advertised is first  # made once
    facts.advertised_external = IPSet(["198.51.100.7/32"])
    assert facts.advertised == IPSet(["10.96.0.0/12", "192.0.2.0/24", "198.51.100.7/32"])
    assert facts.advertised is not first


def test_the_collector_is_paused_while_the_model_is_built_and_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from auditor.model import build as build_module

    resources = load_texts(_manifests(), KNOWN_KINDS).resources[:20]
    seen: list[bool] = []
    finish = build_module._finish

    def spy(model: object) -> None:
        seen.append(gc.isenabled())
        finish(model)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "_finish", spy)
    assert gc.isenabled()
    assert build_model(resources).policies
    assert seen == [False] and gc.isenabled()

    def broken(model: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(build_module, "_finish", broken)
    with pytest.raises(RuntimeError):
        build_model(resources)
    assert gc.isenabled()  # given back after an error too
    gc.disable()
    try:
        monkeypatch.setattr(build_module, "_finish", finish)
        build_model(resources)
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()
