"""Pod-side shortcuts that keep CA402, CA404 and CA406 near linear (issue 11, 100k documents) agree with the
plain computations they replace, on the examples and on generated repositories of both shapes."""

from __future__ import annotations

import importlib.util
import random
import string
import sys
from pathlib import Path
from typing import Any

import pytest
from netaddr import IPNetwork, IPSet

from auditor import selector as sel
from auditor.addrset import AddressSet
from auditor.catalog import all_rules
from auditor.config import Config
from auditor.load import load_texts
from auditor.model import KNOWN_KINDS, Workload, build_model
from auditor.packet.questions import PodSide, Questions, plain_selector, representative, rule_matches
from auditor.rules.ca406_policy_selects_no_workload import LabelValues, _close, _distance, near_miss
from auditor.wording import names

ROOT = Path(__file__).resolve().parent.parent


def _questions(files: dict[str, bytes]) -> Questions:
    loaded = load_texts(files, KNOWN_KINDS)
    config = Config()
    return Questions(build_model(loaded.resources, config.default_namespace), config)


def _tree(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*.yaml")) if p.is_file()}


def _examples() -> Questions:
    files: dict[str, bytes] = {}
    for rel in ("examples/cluster", "examples/local-mode", "examples/cluster-mode"):
        files.update({f"{rel}/{k}": v for k, v in _tree(ROOT / rel).items()})
    return _questions(files)


def _generated(tmp_path: Path, docs: int, seed: int, shape: str = "standard") -> Questions:
    spec = importlib.util.spec_from_file_location("_bench_generate", ROOT / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # (its dataclasses look their module up)
    spec.loader.exec_module(sys.modules[spec.name])
    module = sys.modules[spec.name]
    out = tmp_path / f"{shape}-{docs}-{seed}"
    module.generate(docs, seed, str(out), shape=shape)
    return _questions(_tree(out))


@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory) -> Questions:
    return _generated(tmp_path_factory.mktemp("gen"), 1500, 3)


@pytest.fixture(scope="module")
def node_heavy(tmp_path_factory: pytest.TempPathFactory) -> Questions:
    return _generated(tmp_path_factory.mktemp("gen"), 1200, 5, "node-heavy")


def _nets_around(ps: PodSide, rng: random.Random) -> list[IPNetwork]:
    """Nets holding node addresses, nets beside them, and random ones of both families."""
    nets: list[IPNetwork] = []
    for addr in ps.node_addrs:
        width = 32 if addr.ip.version == 4 else 128
        for prefix in (width, width - 1, width - 8, width - 16):
            nets.append(IPNetwork(f"{addr.ip}/{prefix}").cidr)
        nets.append(IPNetwork(f"{addr.ip + 1}/{width}"))
        nets.append(IPNetwork(f"{addr.ip - 1}/{width}"))
    for _ in range(300):
        if rng.random() < 0.8:
            nets.append(
                IPNetwork(f"{rng.choice([10, 172, 192, 198])}.{rng.randrange(256)}.0.0/{rng.randrange(8, 33)}").cidr
            )
        else:
            nets.append(IPNetwork(f"fd00:{rng.randrange(65536):x}::/{rng.randrange(16, 129)}").cidr)
    nets += [IPNetwork("0.0.0.0/0"), IPNetwork("::/0")]
    return nets


@pytest.mark.parametrize("which", ["examples", "standard", "node_heavy"])
def test_holds_node_address_agrees_with_the_set_intersection(which: str, request: pytest.FixtureRequest) -> None:
    q = _examples() if which == "examples" else request.getfixturevalue(which)
    ps = q.pods
    assert ps.node_addrs, "the repositories give node addresses"
    rng = random.Random(11)
    nets = _nets_around(ps, rng)
    answers = [ps.holds_node_address(net) for net in nets]
    assert answers == [bool(IPSet([net]) & ps.node_ips) for net in nets]
    assert any(answers) and not all(answers)
    assert ps.node_address_list == names(str(a.ip) for a in ps.node_addrs)


def test_holds_node_address_without_nodes() -> None:
    service = b"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n"
    q = _questions({"svc.yaml": service})
    ps = q.pods
    assert not ps.node_addrs
    assert not ps.holds_node_address(IPNetwork("0.0.0.0/0"))
    assert not ps.holds_node_address(IPNetwork("::/0"))
    assert ps.node_address_list == ""


def _local_backends(q: Questions) -> list[tuple[Any, Workload]]:
    ps = q.pods
    return [
        (svc, w)
        for svc in q.model.services
        if svc.local_mode and ps.advertised(svc)
        for w in ps.backends(svc)
        if ps.ingress_policies(w)
    ]


def test_distinct_sources_answer_for_the_sources_left_out(standard: Questions) -> None:
    q = standard
    ps = q.pods
    pairs = _local_backends(q)
    assert pairs
    dropped = 0
    for svc, w in pairs:
        full = ps.expected_sources(svc, w)
        kept = ps.distinct_sources(svc, w)
        # The kept sources are the full list's, in its order, the first one included.
        positions = [next(i for i, p in enumerate(full) if p is k) for k in kept]
        assert positions == sorted(positions) and (not full or positions[0] == 0)
        policies = ps.ingress_policies(w)
        rules = [r for p in policies for r in p.ingress]
        ports = sorted({t.number for t in ps.targets(svc, w) if t.number is not None} | {80, 443, 8080, 9090})
        kept_ids = {id(k) for k in kept}
        for i, peer in enumerate(full):
            if id(peer) in kept_ids:
                continue
            dropped += 1
            # An earlier kept source gets the same verdict and matches the same rules on every port.
            earlier = [k for k in kept if positions[kept.index(k)] < i]
            twin = next(
                k
                for k in earlier
                if all(
                    ps.verdict(w, k, port, proto).allowed == ps.verdict(w, peer, port, proto).allowed
                    and all(
                        rule_matches(r, ps.pod_packet(k, w, port, proto), q.model)
                        == rule_matches(r, ps.pod_packet(peer, w, port, proto), q.model)
                        for r in rules
                    )
                    for port in ports
                    for proto in (6, 17)
                )
            )
            assert twin is not None
    assert dropped, "the node addresses split the clients into classes the pods' rules cannot tell apart"


def _mistakes(ps: PodSide) -> list[tuple[Any, ...]]:
    return [
        (
            id(m.rule),
            id(m.ref),
            id(m.workload),
            id(m.service),
            m.target.port.index,
            m.why,
            None if m.source is None else (m.source.text, str(m.source.ip)),
        )
        for m in ps.port_mistakes
    ]


def _rule_examples() -> list[Questions]:
    """Each rule example of CA402-CA405 (with the shared base) as a repository of its own."""
    return [
        _questions({name: text.encode() for name, text in example.files.items()})
        for rule in all_rules()
        if rule.id in ("CA402", "CA403", "CA404", "CA405")
        for example in rule.examples
    ]


@pytest.mark.parametrize("which", ["examples", "rule-examples", "standard", "node_heavy"])
def test_port_mistakes_are_the_same_with_every_expected_source(
    which: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if which == "examples":
        repos = [_examples()]
    elif which == "rule-examples":
        repos = _rule_examples()
    else:
        repos = [request.getfixturevalue(which)]
    found = 0
    for q in repos:
        shortcut = _mistakes(q.pods)
        plain = PodSide(q.ev)
        monkeypatch.setattr(plain, "distinct_sources", plain.expected_sources)
        assert _mistakes(plain) == shortcut
        found += len(shortcut)
    if which == "rule-examples":
        assert found, "the examples have rules that name the wrong port"


# --- CA406: near misses -------------------------------------------------------------------------


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_distance_with_a_limit_decides_as_the_full_distance() -> None:
    rng = random.Random(5)
    words = ["".join(rng.choice("ab-c") for _ in range(rng.randrange(0, 9))) for _ in range(150)]
    for a in words:
        for b in words[:60]:
            full = _levenshtein(a, b)
            assert _distance(a, b) == full
            for limit in range(4):
                assert (_distance(a, b, limit) <= limit) == (full <= limit)


def _variants(value: str, rng: random.Random) -> list[str]:
    """The value, and spellings a typo, a case change or a dash away from it."""
    out = [value, value.upper(), value.replace("-", ""), value + "-x", value[:-1], "zz" + value]
    if value:
        i = rng.randrange(len(value))
        out.append(value[:i] + rng.choice(string.ascii_lowercase) + value[i + 1 :])
        out.append(value[:i] + value[i + 1 :])
        out.append(value[:i] + "-" + value[i:])
    return out


@pytest.mark.parametrize("which", ["standard", "node_heavy"])
def test_label_values_find_exactly_the_close_values(which: str, request: pytest.FixtureRequest) -> None:
    q = request.getfixturevalue(which)
    pods = [w for w in q.model.workloads if not w.host_network]
    index = LabelValues(pods)
    rng = random.Random(7)
    checked = 0
    for key, values in index.pods.items():
        for value in rng.sample(sorted(values), min(len(values), 12)):
            for wanted in _variants(value, rng):
                expected = sorted(v for v in values if v != wanted and _close(wanted, v, key))
                assert index.close_to(wanted, key) == expected
                checked += bool(expected)
        # The positions are the pods carrying the value, in order.
        for value, positions in values.items():
            assert positions == [i for i, w in enumerate(pods) if w.endpoint_labels.get(key) == value]
    assert checked
    assert index.close_to("anything", "no-such-key") == []


@pytest.mark.parametrize("which", ["standard", "node_heavy"])
def test_near_miss_through_the_index_is_the_near_miss_of_every_pod(which: str, request: pytest.FixtureRequest) -> None:
    q = request.getfixturevalue(which)
    pods = [w for w in q.model.workloads if not w.host_network]
    rng = random.Random(9)
    selectors = [p.effective_selector for p in q.model.policies if p.effective_selector is not None]
    for w in rng.sample(pods, min(len(pods), 40)):
        labels = {k: v for k, v in w.pod_labels.items()}
        key = rng.choice(sorted(labels))
        for wanted in _variants(labels[key], rng)[1:]:
            others = " && ".join(f'{k} == "{v}"' for k, v in sorted(labels.items()) if k != key)
            text = f'{key} == "{wanted}"' + (f" && {others}" if others and rng.random() < 0.5 else "")
            selectors.append(sel.parse(text))
        selectors.append(sel.parse(f'{key} in {{"{labels[key]}x", "{labels[key].upper()}"}}'))
    namespaces = sorted({w.namespace or "" for w in pods})[:5]
    scopes = [pods, *([w for w in pods if w.namespace == ns] for ns in namespaces)]
    found = 0
    for scope in scopes:
        index = LabelValues(scope)
        for selector in selectors:
            plain = near_miss(selector, scope)
            assert near_miss(selector, scope, index) == plain
            found += plain is not None
    assert found


def test_client_classes_shared_by_cut_are_a_fresh_split_of_each_policy_set(standard: Questions) -> None:
    ps, ev = standard.pods, standard.ev
    pairs = _local_backends(standard)
    assert pairs
    for _, w in pairs:
        policies = ps.ingress_policies(w)
        for version in (4, 6):
            universe = ev.outside_universe(version) - AddressSet.of(version, [ps.node_ips])
            fresh = [representative(c) for c in ev.source_classes(universe, policies)]
            assert [p.ip for p in ps.client_peers(w, version)] == [ip for ip in fresh if ip.version == version]
            distinct = ps.distinct_client_peers(w, version)
            assert distinct == [p for p in ps.client_peers(w, version) if any(p is d for d in distinct)]
            assert not distinct or distinct[0] is ps.client_peers(w, version)[0]
    # Policy sets of different applications that cut the addresses alike share one split (none here).
    assert len(ps._clients_by_cut) <= len(ps._clients_of)


@pytest.mark.parametrize("which", ["examples", "standard", "node_heavy"])
def test_hint_pods_from_the_label_index_are_those_of_a_scan(which: str, request: pytest.FixtureRequest) -> None:
    q = _examples() if which == "examples" else request.getfixturevalue(which)
    model = q.model
    host_network = [w for w in model.workloads if w.host_network]
    checked = 0
    for policy in model.policies:
        plain = plain_selector(policy)
        if plain is None:
            continue
        same = [w for w in model.workloads if plain.matches(w.endpoint_labels)]
        assert [w for w in host_network if plain.matches(w.endpoint_labels)] == [w for w in same if w.host_network]
        assert model.workloads_matching(plain) == [w for w in same if not w.host_network]
        checked += bool(same)
    assert checked


def _fresh_node_groups(ps: PodSide, w: Workload) -> list[list[int]]:
    """W's node groups computed plainly: the labels its rule selectors look at, and between which CIDR
    boundaries of its rules the address lies."""
    policies = ps.ingress_policies(w)
    nets = ps.ev.rule_nets(policies)
    keys = {
        k
        for p in policies
        for r in p.ingress
        for s in (r.source.effective_selector, r.source.effective_not_selector)
        if s is not None
        for k in s.label_keys()
    }
    groups: dict[tuple[Any, ...], list[int]] = {}
    for addr in ps.node_addrs:
        visible = frozenset(frozenset(kv for kv in lbl.items() if kv[0] in keys) for lbl in addr.peer.labels)
        v, value = addr.ip.version, int(addr.ip)
        # The CIDR boundaries at or below the address: the same for addresses no boundary separates.
        below = len({b for n in nets if n.version == v for b in (int(n.first), int(n.last) + 1) if b <= value})
        groups.setdefault((v, visible, below), []).append(id(addr))
    return list(groups.values())


@pytest.mark.parametrize("which", ["examples", "standard", "node_heavy"])
def test_node_groups_shared_by_gaps_are_those_of_each_policy_set(which: str, request: pytest.FixtureRequest) -> None:
    q = _examples() if which == "examples" else request.getfixturevalue(which)
    ps = q.pods
    policed = [w for w in q.model.workloads if ps.ingress_policies(w)]
    assert policed and ps.node_addrs
    for w in policed:
        assert [[id(a) for a in g] for g in ps.node_groups(w)] == _fresh_node_groups(ps, w)
    # Different rule CIDRs that fall in the same gaps between node addresses share one grouping.
    assert len(ps._partitions) <= len(ps._shapes)
