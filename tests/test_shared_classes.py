"""Source classes computed once and shared (issue 11) agree with computing them afresh per question."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.addrset import AddressSet
from auditor.config import Config
from auditor.load import load_texts
from auditor.model import KNOWN_KINDS, build_model
from auditor.packet.evaluator import address_classes, representative
from auditor.packet.questions import Questions

ROOT = Path(__file__).resolve().parent.parent


def _questions(*paths: str) -> Questions:
    files: dict[str, bytes] = {}
    for rel in paths:
        base = ROOT / rel
        for path in sorted(base.rglob("*.yaml")) if base.is_dir() else [base]:
            files[str(path.relative_to(ROOT))] = path.read_bytes()
    loaded = load_texts(files, KNOWN_KINDS)
    config = Config()
    return Questions(build_model(loaded.resources, config.default_namespace), config)


def _intervals(classes: list[AddressSet]) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    return [(c.version, tuple(c.intervals)) for c in classes]


@pytest.mark.parametrize(
    "paths", [("examples/cluster", "examples/local-mode"), ("examples/cluster", "examples/cluster-mode")]
)
def test_precomputed_labelled_points_give_the_same_classes(paths: tuple[str, ...]) -> None:
    ev = _questions(*paths).ev
    assert ev.labelled_cuts, "the examples have host endpoint addresses or network sets"
    assert ev.labelled_points[4]
    policies = [p for p in ev.model.policies if p.enforced]
    assert policies
    for version in (4, 6):
        universe = ev.outside_universe(version)
        for policy in policies:
            cuts = ev.rule_nets([policy])
            fresh = address_classes(universe, [*cuts, *ev.labelled_cuts])
            shared = address_classes(universe, cuts, ev.labelled_points)
            assert _intervals(shared) == _intervals(fresh)
            # The precomputed boundaries add nothing the cuts do not: without them the split is coarser.
            assert len(address_classes(universe, cuts)) <= len(shared)


def test_client_peers_shared_by_policies_match_a_fresh_split() -> None:
    q = _questions("examples/cluster", "examples/local-mode")
    ps, ev = q.pods, q.ev
    policed = [w for w in ev.model.workloads if ps.ingress_policies(w)]
    assert policed
    by_policies: dict[tuple[int, ...], list[object]] = {}
    for w in policed:
        for version in (4, 6):
            peers = ps.client_peers(w, version)
            universe = ev.outside_universe(version) - AddressSet.of(version, [ps.node_ips])
            policies = ps.ingress_policies(w)
            labels = any(
                e.effective_selector is not None or e.effective_not_selector is not None
                for p in policies
                for r in p.rules
                for e in (r.source, r.destination)
            )
            cuts = [*ev.rule_nets(policies), *(ev.labelled_cuts if labels else ())]
            expected = [
                representative(c) for c in address_classes(universe, cuts) if representative(c).version == version
            ]
            assert [p.ip for p in peers] == expected
            # Workloads the same policies select get the very same classes (computed once).
            key = (version, *map(id, policies))
            assert by_policies.setdefault(key, peers) is peers
    assert any(ps.client_peers(w, 4) for w in policed)


@pytest.mark.parametrize(
    "paths",
    [
        ("examples/cluster", "examples/cluster-mode"),
        ("examples/cluster", "examples/variants/ca207-allow-list-without-deny.yaml"),
    ],
)
def test_host_policies_from_the_label_index_match_a_scan(paths: tuple[str, ...]) -> None:
    ev = _questions(*paths).ev
    assert ev.host_endpoints and ev.host_policies
    for hep in ev.host_endpoints:
        scan = [
            p for p in ev.host_policies if p.effective_selector is not None and p.effective_selector.matches(hep.labels)
        ]
        assert ev.policies_for_hep(hep) == scan
    assert any(ev.policies_for_hep(h) for h in ev.host_endpoints)
