"""The node-port range: one function, one precedence (FelixConfiguration, then configuration, then default)."""

from __future__ import annotations

from auditor.config import Config, from_mapping
from auditor.load import load_texts
from auditor.model import KNOWN_KINDS, Model, build_model
from auditor.model.facts import cluster_facts, node_port_range

FELIX = b"""apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  kubeNodePortRanges: ["31000:31999", 40000]
"""
OTHER_FELIX = FELIX.replace(b"name: default", b"name: node.node1")
BROKEN_FELIX = FELIX.replace(b'["31000:31999", 40000]', b'["not-a-range"]')


def _model(text: bytes | None) -> Model:
    files = {"felix.yaml": text} if text is not None else {}
    return build_model(load_texts(files, KNOWN_KINDS).resources)


def test_felix_default_wins_over_the_configuration() -> None:
    ports, fact = node_port_range(_model(FELIX), from_mapping({"cluster": {"node-port-range": "20000-21000"}}))
    assert 31500 in ports and 40000 in ports and 20500 not in ports and 30000 not in ports
    assert fact.origin == "repo"
    assert fact.where is not None and fact.where.path == ("spec", "kubeNodePortRanges")


def test_configuration_when_felix_declares_no_valid_range() -> None:
    config = from_mapping({"cluster": {"node-port-range": "20000-21000"}})
    for text in (None, OTHER_FELIX, BROKEN_FELIX):
        ports, fact = node_port_range(_model(text), config)
        assert 20000 in ports and 21000 in ports and 30000 not in ports
        assert fact.origin == "config" and fact.where is None


def test_kubernetes_default_otherwise() -> None:
    ports, fact = node_port_range(_model(None), Config())
    assert 30000 in ports and 32767 in ports and 29999 not in ports and 32768 not in ports
    assert fact.origin == "default" and "30000:32767" in fact.note


def test_an_unparsable_configured_range_falls_back_to_the_default_without_a_note() -> None:
    config = Config()
    config.node_port_range = "not a range"
    ports, fact = node_port_range(_model(None), config)
    assert 30000 in ports and 32767 in ports and 32768 not in ports
    assert fact.origin == "default" and fact.note == ""


def test_cluster_facts_use_the_same_range() -> None:
    model, config = _model(FELIX), from_mapping({"cluster": {"node-port-range": "20000-21000"}})
    facts = cluster_facts(model, config)
    assert (facts.node_ports, facts.node_port) == node_port_range(model, config)


SERVICE = b"""apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  externalIPs: [203.0.113.5]
  ports: [{port: 443, nodePort: 30443}]
status:
  loadBalancer: {ingress: [{ip: 198.51.100.9}]}
"""


def test_service_addresses_say_how_with_an_enum_that_reads_as_the_words() -> None:
    from auditor.packet.questions import AddressKind, Questions

    model = build_model(load_texts({"svc.yaml": SERVICE}, KNOWN_KINDS).resources)
    addresses = Questions(model, Config()).ev.service_addresses
    kinds = {str(a.ip): a.how for a in addresses}
    assert kinds["10.96.0.10"] is AddressKind.CLUSTER_IP
    assert kinds["203.0.113.5"] is AddressKind.EXTERNAL_IP
    assert all(isinstance(a.how, AddressKind) for a in addresses)
    assert f"{AddressKind.NODE_PORT} 10.0.0.1" == "node port 10.0.0.1"
    assert AddressKind.LOAD_BALANCER_IP == "load-balancer IP"
