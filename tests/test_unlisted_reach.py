"""Evaluator.unlisted_reach (CA207's question) agrees with the full reachability walk it shortcuts."""

from __future__ import annotations

from pathlib import Path

import pytest
from netaddr import IPAddress

from auditor.addrset import AddressSet
from auditor.config import Config
from auditor.load import load_texts
from auditor.model import KNOWN_KINDS, build_model
from auditor.packet.questions import Questions

ROOT = Path(__file__).resolve().parent.parent

# Three host endpoints: two with the same policies but on opposite sides of a rule net (two groups that share
# their edge policies), one more that a second allow-list also selects (other pre-DNAT policies). The deny
# covers 10.20.30.0/24 only, so 10.20.31.5 leaks past its allow-list and 10.20.30.40 does not.
ESTATE = """
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec:
  serviceClusterIPs: [{cidr: 10.20.0.0/16}]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-a, labels: {k8s-role: node}}
spec: {node: a, interfaceName: eth0, expectedIPs: [192.168.1.10]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-b, labels: {k8s-role: node}}
spec: {node: b, interfaceName: eth0, expectedIPs: [192.168.2.10]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-c, labels: {k8s-role: node, edge: "yes"}}
spec: {node: c, interfaceName: eth0, expectedIPs: [192.168.3.10]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-cluster-ips}
spec:
  selector: k8s-role == 'node'
  order: 500
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    source: {nets: [50.60.0.0/16, 192.168.2.0/24]}
    destination: {nets: [10.20.30.40/32, 10.20.31.5/32]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-edge-clients}
spec:
  selector: edge == 'yes'
  order: 600
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    protocol: TCP
    source: {nets: [70.80.0.0/16]}
    destination: {nets: [10.20.31.5/32], ports: [443]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-some-cluster-ips}
spec:
  selector: k8s-role == 'node'
  order: 2000
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Deny
    destination: {nets: [10.20.30.0/24]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.20.30.40
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.20.31.5
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]
"""


def _questions(files: dict[str, bytes]) -> Questions:
    loaded = load_texts(files, KNOWN_KINDS)
    config = Config()
    return Questions(build_model(loaded.resources, config.default_namespace), config)


def _folder(*paths: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for base in paths:
        for path in sorted(base.rglob("*.yaml")) if base.is_dir() else [base]:
            files[str(path.relative_to(ROOT))] = path.read_bytes()
    return files


def _compare(q: Questions) -> tuple[int, int, int]:
    """Checks every advertised address, port and host endpoint group; returns (questions asked, leaking
    answers, calls in which endpoints shared their edge policies)."""
    ev = q.ev
    asked = leaks = shared = 0
    heps = [h for h in ev.ingress_groups() if h is not None]
    stage_keys = [tuple(map(id, (*ev.untracked_for(h), *ev.prednat_for(h), *ev.forward_for(h)))) for h in heps]
    for address in ev.advertised_addresses():
        for port in address.service.ports:
            fast = q.who_reaches_unlisted(address, port, heps)
            assert len(fast) == len(heps)
            for hep, got in zip(heps, fast, strict=True):
                expected = AddressSet(int(address.ip.version))
                for cls in q.who_reaches(address, port, hep, remember=False):
                    if cls.reaches_unlisted:
                        expected |= cls.ips
                assert got == expected, (str(address.ip), port.port, hep.name)
                asked += 1
                leaks += bool(got)
            shared += len(set(stage_keys)) < len(stage_keys)
    return asked, leaks, shared


def test_unlisted_reach_matches_the_full_walk() -> None:
    q = _questions({"estate.yaml": ESTATE.encode()})
    asked, leaks, shared = _compare(q)
    assert len(q.ev.hep_groups) == 3  # the shared-policy path and the distinct one are both taken
    assert asked == 2 * 2 * 3 and shared == 4
    # 10.20.31.5 leaks through every endpoint on both ports (the others than the listed sources);
    # 10.20.30.40 is denied after its allow-list.
    assert leaks == 2 * 3
    api = next(a for a in q.ev.advertised_addresses() if str(a.ip) == "10.20.31.5")
    node_c = next(h for h in q.ev.ingress_groups() if h is not None and h.name == "node-c")
    https = next(p for p in api.service.ports if p.port == 443)
    (leak,) = q.who_reaches_unlisted(api, https, [node_c])
    assert IPAddress("70.80.1.1") not in leak and IPAddress("50.60.1.1") not in leak  # the listed sources
    assert IPAddress("8.8.8.8") in leak
    http = next(p for p in api.service.ports if p.port == 80)
    (leak,) = q.who_reaches_unlisted(api, http, [node_c])
    assert IPAddress("70.80.1.1") in leak  # that allow-list names port 443 only


@pytest.mark.parametrize(
    "paths",
    [
        ("examples/cluster", "examples/cluster-mode"),
        ("examples/cluster", "examples/local-mode"),
        ("examples/cluster", "examples/variants/ca207-allow-list-without-deny.yaml"),
        ("rules/examples/_base", "rules/examples/CA207/01-the-guide-s-allow-list-without-a-deny.yaml"),
    ],
)
def test_unlisted_reach_on_examples(paths: tuple[str, ...]) -> None:
    asked, _, _ = _compare(_questions(_folder(*(ROOT / p for p in paths))))
    assert asked > 0
