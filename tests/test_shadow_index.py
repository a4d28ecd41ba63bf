"""CA208's index of earlier rules (issue 11) finds exactly what comparing every pair of rules finds."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Config
from auditor.load import load, load_texts
from auditor.model import KNOWN_KINDS, Policy, PolicyRule, build_model
from auditor.packet.questions import Questions
from auditor.rules import ca208_shadowed_rule as ca208

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "real"

NETS = [
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.0/24",
    "10.1.2.3/32",
    "10.1.2.77/24",  # host bits set: the network is 10.1.2.0/24
    "10.1.3.0/24",
    "10.2.0.0/15",
    "192.168.0.0/16",
    "192.168.7.7",
    "0.0.0.0/0",
    "fd00::/8",
    "fd00:1::/32",
    "fd00:1::5/128",
    "::/0",
    "10.300.0.0/16",  # not a network: a rule with it covers nothing
]
SELECTORS = ["app == 'a'", "app == 'b'", "all()", "has(tier)", "app in {'a', 'b'}", "app == 'a' && has(tier)"]
PORTS: list[Any] = [80, 443, "80:90", "8000:9000", "http", "1:65535", 22, "30000:32767"]
PROTOCOLS: list[Any] = ["TCP", "UDP", "ICMP", "SCTP", 6, "ICMPv6", 300]


def _maybe(rng: random.Random, chance: float, value: Any) -> Any:
    return value if rng.random() < chance else None


def _entity(rng: random.Random) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "nets": _maybe(rng, 0.5, rng.sample(NETS, rng.choice([1, 1, 1, 2, 3]))),
        "notNets": _maybe(rng, 0.1, rng.sample(NETS, rng.choice([1, 2]))),
        "selector": _maybe(rng, 0.3, rng.choice(SELECTORS)),
        "notSelector": _maybe(rng, 0.1, rng.choice(SELECTORS)),
        "ports": _maybe(rng, 0.35, rng.sample(PORTS, rng.choice([1, 1, 2, 3]))),
        "notPorts": _maybe(rng, 0.1, rng.sample(PORTS, rng.choice([1, 2]))),
    }
    return {key: value for key, value in entity.items() if value is not None}


def _rule(rng: random.Random) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "action": rng.choice(["Allow", "Allow", "Deny", "Deny", "Pass", "Log"]),
        "protocol": _maybe(rng, 0.6, rng.choice(PROTOCOLS)),
        "notProtocol": _maybe(rng, 0.1, rng.choice(PROTOCOLS)),
        "ipVersion": _maybe(rng, 0.15, rng.choice([4, 6])),
        "icmp": _maybe(rng, 0.05, {"type": rng.choice([0, 8])}),
        "http": _maybe(rng, 0.03, {"methods": ["GET"]}),
        "source": _maybe(rng, 0.7, _entity(rng)),
        "destination": _maybe(rng, 0.8, _entity(rng)),
    }
    return {key: value for key, value in rule.items() if value is not None}


def _policies(seed: int, count: int, most_rules: int) -> list[Policy]:
    """``count`` random policies (some tiered, some twice under one name) with up to ``most_rules`` rules each."""
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        tier = rng.choice(["default", "default", "security"])
        name = f"p{i if rng.random() > 0.1 else 0}"
        spec = {
            "order": rng.choice([10, 100, 500]),
            "selector": "all()",
            "types": ["Ingress", "Egress"],
            "ingress": [_rule(rng) for _ in range(rng.randint(0, most_rules))],
            "egress": [_rule(rng) for _ in range(rng.randint(0, most_rules))],
        }
        if tier != "default":
            spec["tier"], name = tier, f"{tier}.{name}"
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": name}})
        docs[-1]["spec"] = spec
    text = "\n---\n".join(json.dumps(doc) for doc in docs)
    loaded = load_texts({"policies.yaml": text.encode()}, KNOWN_KINDS)
    policies = build_model(loaded.resources, None).policies
    assert len(policies) == count
    return policies


def _pairwise(chain: list[Policy], direction: str, budget: list[int]) -> dict[int, PolicyRule]:
    """The plain computation: each rule against its policy's earlier rules, then every earlier policy's."""
    out: dict[int, PolicyRule] = {}
    earlier: list[PolicyRule] = []
    for policy in chain:
        own: list[PolicyRule] = []
        for rule in policy.ingress if direction == "ingress" else policy.egress:
            if rule.action not in ("Allow", "Deny", "Pass"):
                continue
            budget[0] -= len(own) + len(earlier)
            if budget[0] < 0:
                return out
            for prior in (*own, *earlier):
                if prior.policy is not policy and prior.policy.identity == policy.identity:
                    continue
                final = prior.action in ("Allow", "Deny") or prior.policy.tier == policy.tier
                if final and ca208.covers(prior, rule):
                    out[id(rule)] = prior
                    break
            own.append(rule)
        earlier.extend(own)
    return out


def _chains(seed: int, policies: list[Policy], count: int) -> list[list[Policy]]:
    rng = random.Random(seed)
    return [rng.sample(policies, rng.randint(1, len(policies))) for _ in range(count)]


@pytest.mark.parametrize("file_after", [ca208.FILE_AFTER, 0])
@pytest.mark.parametrize("seed", range(6))
def test_indexed_shadowing_matches_pairwise(seed: int, file_after: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """On random chains (nets, notNets, ports, notPorts, selectors, protocols, tiers, Pass, duplicate
    policies), the same rules are shadowed by the same earlier rules, also when a budget runs out."""
    monkeypatch.setattr(ca208, "FILE_AFTER", file_after)  # 0: filed from the first rule on
    policies = _policies(seed, count=14, most_rules=9)
    shadowed = 0
    for chain in _chains(seed, policies, 30):
        for direction in ("ingress", "egress"):
            for limit in (ca208.MAX_PAIRS, 40):
                expected_budget, budget = [limit], [limit]
                expected = _pairwise(chain, direction, expected_budget)
                found = ca208._shadowing(chain, direction, budget)
                assert {k: id(v) for k, v in found.items()} == {k: id(v) for k, v in expected.items()}
                assert budget == expected_budget
                shadowed += len(found)
    assert shadowed > 20, "the random chains do shadow rules"


@pytest.mark.parametrize("seed", range(3))
def test_every_covering_rule_is_a_candidate(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index never leaves out an earlier rule that covers (a necessary condition only), and returns
    each rule once, the later rule's own policy's first, each part in chain order."""
    monkeypatch.setattr(ca208, "FILE_AFTER", 0)
    rules = [r for p in _policies(100 + seed, count=20, most_rules=12) for r in (*p.ingress, *p.egress)]
    earlier = ca208._Earlier()
    pruned = covering = 0
    for i, rule in enumerate(rules):
        own = random.Random(i).randint(0, i)
        found = earlier.candidates(rule, own)
        positions = [next(j for j, r in enumerate(rules) if r is prior) for prior in found]
        assert positions == sorted(set(positions), key=lambda j: (j < own, j))
        for prior in rules[:i]:
            if ca208.covers(prior, rule):
                covering += 1
                assert any(p is prior for p in found), (prior, rule)
        pruned += i - len(found)
        earlier.add(rule)
    assert covering > 10
    assert pruned > len(rules) * len(rules) // 4, "the index leaves most pairs out"


def _cluster_ips(count: int, per_policy: int = 25) -> list[Policy]:
    """The guide's allow-cluster-ips policies: one rule per cluster IP, from a few client nets."""
    clients = ["50.60.0.0/16", "10.20.0.0/16", "172.16.0.0/12", "203.0.113.0/24"]
    docs = []
    for p in range(0, count, per_policy):
        rules = [
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"nets": clients[i % 3 : i % 3 + 2]},
                "destination": {"nets": [f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}/32"], "ports": [80, 443]},
            }
            for i in range(p, min(p + per_policy, count))
        ]
        spec = {"order": 500, "selector": "all()", "preDNAT": True, "applyOnForward": True, "ingress": rules}
        meta = {"name": f"allow-cluster-ips-{p:05d}"}
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": meta, "spec": spec})
    loaded = load_texts({"c.yaml": "\n---\n".join(json.dumps(d) for d in docs).encode()}, KNOWN_KINDS)
    return build_model(loaded.resources, None).policies


def _count_covers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count CA208's ``covers`` calls from now on (a one-item list)."""
    compared = [0]
    covers = ca208.covers

    def counted(e: PolicyRule, r: PolicyRule) -> bool:
        compared[0] += 1
        return covers(e, r)

    monkeypatch.setattr(ca208, "covers", counted)
    return compared


def test_a_long_chain_compares_few_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 rules for distinct /32 cluster IPs: the index compares a few pairs per rule, not all earlier ones;
    the budget still counts every pair a plain comparison would make, so the same rules are checked."""
    chain = _cluster_ips(2000)
    compared = _count_covers(monkeypatch)
    budget = [10**9]
    assert ca208._shadowing(chain, "ingress", budget) == {}
    assert 10**9 - budget[0] == 2000 * 1999 // 2  # every pair counted
    assert compared[0] < 2000 * 30  # pairwise: about 2,000,000
    budget = [ca208.MAX_PAIRS]
    ca208._shadowing(chain, "ingress", budget)
    assert budget[0] < 0, "a chain this long stops at MAX_PAIRS, as before"
    expected = [ca208.MAX_PAIRS]
    _pairwise(chain, "ingress", expected)
    assert budget == expected


def test_one_policy_with_thousands_of_rules_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules the index cannot tell apart (same protocol, no nets or selectors; ports differ): the pairs within
    one policy count towards MAX_PAIRS too, so the work stops there and a note says so."""
    rules = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [1000 + i]}} for i in range(3000)]
    spec = {"selector": "all()", "ingress": rules}
    doc = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "h"}, "spec": spec}
    loaded = load_texts({"h.yaml": json.dumps(doc).encode()}, KNOWN_KINDS)
    chain = build_model(loaded.resources, None).policies
    compared = _count_covers(monkeypatch)
    budget = [ca208.MAX_PAIRS]
    assert ca208._shadowing(chain, "ingress", budget) == {}
    assert budget[0] < 0
    assert ca208.MAX_PAIRS // 2 < compared[0] <= ca208.MAX_PAIRS  # pairwise: 4.5 million


@pytest.mark.parametrize("where", ["examples", "corpus"])
def test_workloads_of_a_policy_are_those_its_selector_matches(where: str) -> None:
    """The chains of endpoints the repository does not hold ask the pod side which workloads a policy
    selects (namespaced policies: its namespace's pods only); the model's label index gives the same."""
    base = ROOT / "examples" if where == "examples" else CORPUS
    if not base.is_dir():
        pytest.skip("the real corpus is not beside the project")
    folders = [base] if where == "examples" else sorted(p for p in base.iterdir() if p.is_dir())
    checked = selecting = 0
    for folder in folders:
        loaded = load([str(folder)], KNOWN_KINDS)
        q = Questions(build_model(loaded.resources, "default"), Config())
        for policy in q.model.policies:
            if policy.effective_selector is None:
                continue
            expected = q.model.workloads_matching(policy.effective_selector)
            assert [id(w) for w in q.pods.workloads_of(policy)] == [id(w) for w in expected], policy.display
            checked += 1
            selecting += bool(expected)
    assert checked > 20 and selecting > 5
