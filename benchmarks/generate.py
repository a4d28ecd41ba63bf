"""Write a realistic synthetic Calico + Kubernetes manifest repository, deterministic from a seed.

    python benchmarks/generate.py --docs 20000 --seed 1 --out DIR

The repository models a cluster that advertises Service cluster IPs over BGP and secures them the
way the Calico guide "Apply Calico policy to services exposed externally as cluster IPs" describes
(see ``benchmarks/README.md`` for the exact mix):

* ``cluster/calico/``: the BGPConfiguration ``default`` (serviceClusterIPs), the FelixConfiguration
  ``default``, IPPools, one HostEndpoint per node interface (``k8s-role: node``), the host baseline
  GlobalNetworkPolicies (allow-to-pods, host traffic with ``notPorts: ["30000:32767"]``, a preDNAT
  deny of the advertised range at a higher order) and the preDNAT + applyOnForward allow lists,
  one rule per pinned cluster IP;
* ``namespaces/<ns>/``: a namespace file (Namespace, default deny, DNS egress, quota, ...) and one
  multi-document file per application: Deployment or StatefulSet with pod-template labels and named
  container ports, Services (ClusterIP pinned inside 10.96.0.0/12, some NodePort/LoadBalancer with
  ``externalTrafficPolicy: Local``, target ports by name and by number), a Calico NetworkPolicy and
  a Kubernetes NetworkPolicy selecting the pods, a GlobalNetworkPolicy letting the nodes reach the
  target ports (guide step 3), plus ServiceAccount, ConfigMap, HPA and PDB;
* noise: CI and tool YAML without ``apiVersion``, Helm values, kustomizations;
* a small, fixed share of realistic mistakes (broken YAML, an unrendered template, duplicate
  resources, a misspelt field, rules under ``types``, unpinned or out-of-range cluster IPs), so the
  rules have something to report.

The document count is exact: the last few documents are padded with ConfigMaps.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import random
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Bump when the output for a given (docs, seed) changes: it invalidates cached repositories.
GENERATOR_VERSION = 2

SERVICE_RANGE = ipaddress.ip_network("10.96.0.0/12")  # advertised via BGPConfiguration.serviceClusterIPs
POD_CIDR = "192.168.0.0/16"
NODE_CIDR = ipaddress.ip_network("10.240.0.0/16")
EXTERNAL_IPS = "203.0.113.0/24"
LB_IPS = "198.51.100.0/24"
NODE_PORT_RANGE = "30000:32767"
DOCS_PER_CHUNK_POLICY = 25  # cluster IPs per allow-cluster-ips GlobalNetworkPolicy
POLICIES_PER_FILE = 10
HEPS_PER_FILE = 10


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS_A = _words(
    "cart checkout payments catalog search orders billing ledger users auth profile inventory shipping "
    "pricing reviews ratings media images video notify mailer sms push reports analytics metrics audit "
    "gateway edge ingest stream queue scheduler worker batch export import sync cache session tokens "
    "feature flags config registry"
)
_WORDS_B = _words("api svc web backend frontend service server worker core proxy db store agent")
_TEAMS = _words(
    "commerce platform data identity growth mobile finance logistics media support risk search infra "
    "security observability messaging"
)
_ENVS = ("prod", "staging", "dev", "qa")
_ZONES = ("zone-a", "zone-b", "zone-c")
_CLIENT_NETS = (
    "50.60.0.0/16",
    "70.80.90.0/24",
    "100.64.0.0/10",
    "172.16.0.0/12",
    "198.18.0.0/15",
    "203.0.113.0/24",
    "192.0.2.0/24",
    "10.10.0.0/16",
    "10.20.0.0/16",
    "10.30.40.0/24",
)
_IMAGES = ("nginx:1.25", "envoyproxy/envoy:v1.29", "ghcr.io/acme/{app}:1.{n}.0", "registry.local/{team}/{app}:{n}")


# --------------------------------------------------------------------------------------------
# A small YAML writer: block style like kubectl, flow lists where people write them, comments
# --------------------------------------------------------------------------------------------


class Flow(list):  # type: ignore[type-arg]
    """A list written in flow style: ``ports: [80, 443]``."""


class Note:
    """A scalar with a trailing comment: ``- 10.96.0.15/32 # Cluster IP of shop/cart``."""

    __slots__ = ("comment", "value")

    def __init__(self, value: Any, comment: str) -> None:
        self.value = value
        self.comment = comment


class Item(dict):  # type: ignore[type-arg]
    """A mapping in a list, preceded by a comment line (as in the guide's allow lists)."""

    def __init__(self, comment: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.comment = comment


_RESERVED = {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"}
_RESERVED |= {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"}
_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@`")


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return text.lower() in (".inf", "-.inf", ".nan") or text.startswith(("0x", "0o"))
    return True


def scalar(value: Any) -> str:
    if isinstance(value, Note):
        return f"{scalar(value.value)} # {value.comment}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if (
        text in _RESERVED
        or text.startswith(_INDICATORS)
        or text != text.strip()
        or ":" in text
        or " #" in text
        or "\n" in text
        or _looks_numeric(text)
    ):
        return json.dumps(text)
    return text


def _flow(items: Iterable[Any]) -> str:
    """Flow list; comments of :class:`Note` items go after the closing bracket."""
    items = list(items)
    text = "[" + ", ".join(scalar(i.value if isinstance(i, Note) else i) for i in items) + "]"
    notes = [i.comment for i in items if isinstance(i, Note)]
    return f"{text} # {'; '.join(notes)}" if notes else text


def _key(key: str) -> str:
    return scalar(key)


def _dict_lines(data: Mapping[str, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        k = _key(key)
        if isinstance(value, Flow):
            out.append(f"{pad}{k}: {_flow(value)}")
        elif isinstance(value, dict) and value:
            out.append(f"{pad}{k}:")
            _dict_lines(value, indent + 2, out)
        elif isinstance(value, list) and value:
            out.append(f"{pad}{k}:")
            _list_lines(value, indent, out)
        elif isinstance(value, dict):
            out.append(f"{pad}{k}: {{}}")
        elif isinstance(value, list):
            out.append(f"{pad}{k}: []")
        elif isinstance(value, str) and "\n" in value:
            out.append(f"{pad}{k}: |")
            out.extend(f"{pad}  {line}" if line else "" for line in value.rstrip("\n").split("\n"))
        else:
            out.append(f"{pad}{k}: {scalar(value)}")


def _list_lines(items: Sequence[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, Item):
            out.append(f"{pad}# {item.comment}")
        if isinstance(item, dict) and item:
            start = len(out)
            _dict_lines(item, indent + 2, out)
            out[start] = f"{pad}- {out[start][indent + 2 :]}"
        elif isinstance(item, list) and item:
            out.append(f"{pad}- {_flow(item)}")
        else:
            out.append(f"{pad}- {scalar(item)}")


def dump(data: Mapping[str, Any], comments: Sequence[str] = ()) -> str:
    out = [f"# {c}" if c else "#" for c in comments]
    _dict_lines(data, 0, out)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# The repository being built
# --------------------------------------------------------------------------------------------


@dataclass
class Doc:
    kind: str  # for the tally: the resource kind, or a noise label such as "(ci)"
    text: str


@dataclass
class App:
    namespace: str
    name: str
    cluster_ip: str | None  # pinned cluster IP of the main Service (None: not pinned or headless only)
    target_ports: tuple[int, ...]
    client_nets: tuple[str, ...]


@dataclass
class Repo:
    files: dict[str, list[Doc]] = field(default_factory=dict)
    raw_files: dict[str, str] = field(default_factory=dict)  # deliberately broken files (text as is)
    raw_doc_counts: dict[str, int] = field(default_factory=dict)
    raw_kinds: Counter[str] = field(default_factory=Counter)

    def add(self, path: str, docs: list[Doc]) -> None:
        assert path not in self.files and path not in self.raw_files, path
        self.files[path] = docs

    def add_raw(self, path: str, text: str, documents: int, kind: str) -> None:
        assert path not in self.files and path not in self.raw_files, path
        self.raw_files[path] = text
        self.raw_doc_counts[path] = documents
        self.raw_kinds[kind] += documents

    @property
    def documents(self) -> int:
        return sum(len(d) for d in self.files.values()) + sum(self.raw_doc_counts.values())

    def tally(self) -> Counter[str]:
        counts: Counter[str] = Counter(doc.kind for docs in self.files.values() for doc in docs)
        counts.update(self.raw_kinds)
        return counts


class Generator:
    def __init__(self, docs: int, seed: int, nodes: int | None = None, defect_rate: float = 0.01) -> None:
        if docs < 200:
            raise ValueError("at least 200 documents")
        self.target = docs
        self.rng = random.Random(seed)
        self.nodes = nodes if nodes is not None else max(3, min(5000, docs // 100))
        self.defect_rate = defect_rate
        self.repo = Repo()
        self.defects: Counter[str] = Counter()
        self._used_ips: set[int] = {int(SERVICE_RANGE[1]), int(SERVICE_RANGE[10])}  # kubernetes, kube-dns
        self._names: set[tuple[str, str]] = set()
        self.apps: list[App] = []

    # --- helpers ---------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def defect(self, name: str, scale: float = 1.0) -> bool:
        hit = self.rng.random() < self.defect_rate * scale
        if hit:
            self.defects[name] += 1
        return hit

    def cluster_ip(self) -> str:
        size = SERVICE_RANGE.num_addresses
        while True:
            value = int(SERVICE_RANGE.network_address) + self.rng.randrange(2, size - 1)
            if value not in self._used_ips:
                self._used_ips.add(value)
                return str(ipaddress.ip_address(value))

    def unique(self, namespace: str, base: str) -> str:
        name, n = base, 2
        while (namespace, name) in self._names:
            name, n = f"{base}-{n}", n + 1
        self._names.add((namespace, name))
        return name

    # --- the whole repository --------------------------------------------------------------

    def build(self) -> Repo:
        self.cluster_files()
        self.noise_files()
        namespaces: list[str] = []
        stop = False
        while not stop:
            ns = self.unique("", f"{self.rng.choice(_TEAMS)}-{self.rng.choice(_ENVS)}")
            ns_docs = self.namespace_file(ns)
            if self.total_with(ns_docs, 0) > self.target:
                break
            self.repo.add(f"namespaces/{ns}/namespace.yaml", ns_docs)
            namespaces.append(ns)
            self.extra_namespace_files(ns)
            for _ in range(self.rng.randint(4, 14)):
                app, docs, broken = self.app(ns)
                if self.total_with([], len(docs), app) > self.target:
                    stop = True
                    break
                path = f"namespaces/{ns}/{app.name}.yaml"
                if broken:  # a merge-conflict leftover: the file no longer parses as a whole
                    text = "---\n".join(d.text for d in docs).replace("  replicas:", "<<<<<<< HEAD\n  replicas:", 1)
                    self.repo.add_raw(path, text, len(docs), "(broken: syntax)")
                else:
                    self.repo.add(path, docs)
                self.apps.append(app)
        self.cluster_ip_policies()
        self.pad()
        assert self.repo.documents == self.target, (self.repo.documents, self.target)
        return self.repo

    def total_with(self, extra_docs: list[Doc], extra: int, app: App | None = None) -> int:
        """Documents once ``extra`` more are added, counting the allow-cluster-ips policies to come."""
        pinned = sum(1 for a in self.apps if a.cluster_ip) + (1 if app is not None and app.cluster_ip else 0)
        return self.repo.documents + len(extra_docs) + extra + math.ceil(pinned / DOCS_PER_CHUNK_POLICY)

    # --- cluster-scoped Calico configuration -------------------------------------------------

    def cluster_files(self) -> None:
        r = self.repo
        r.add(
            "cluster/calico/bgp.yaml",
            [
                Doc(
                    "BGPConfiguration",
                    dump(
                        {
                            "apiVersion": "projectcalico.org/v3",
                            "kind": "BGPConfiguration",
                            "metadata": {"name": "default"},
                            "spec": {
                                "logSeverityScreen": "Info",
                                "nodeToNodeMeshEnabled": False,
                                "asNumber": 64512,
                                "serviceClusterIPs": [{"cidr": str(SERVICE_RANGE)}],
                                "serviceExternalIPs": [{"cidr": EXTERNAL_IPS}],
                                "serviceLoadBalancerIPs": [{"cidr": LB_IPS}],
                                "listenPort": 179,
                            },
                        },
                        ["Advertise Service cluster IPs to the top-of-rack routers (guide: before you begin)."],
                    ),
                ),
                *(
                    Doc(
                        "BGPPeer",
                        dump(
                            {
                                "apiVersion": "projectcalico.org/v3",
                                "kind": "BGPPeer",
                                "metadata": {"name": f"rack-{rack}-tor"},
                                "spec": {
                                    "peerIP": f"10.250.{rack}.1",
                                    "asNumber": 65000 + rack,
                                    "nodeSelector": f"rack == 'r{rack}'",
                                },
                            }
                        ),
                    )
                    for rack in range(self.racks)
                ),
            ],
        )
        r.add(
            "cluster/calico/felix.yaml",
            [
                Doc(
                    "FelixConfiguration",
                    dump(
                        {
                            "apiVersion": "projectcalico.org/v3",
                            "kind": "FelixConfiguration",
                            "metadata": {"name": "default"},
                            "spec": {
                                "bpfEnabled": False,
                                "logSeverityScreen": "Info",
                                "reportingInterval": "0s",
                                "defaultEndpointToHostAction": "Drop",
                                "failsafeInboundHostPorts": [
                                    {"protocol": "TCP", "port": 22},
                                    {"protocol": "UDP", "port": 68},
                                    {"protocol": "TCP", "port": 179},
                                    {"protocol": "TCP", "port": 2379},
                                    {"protocol": "TCP", "port": 6443},
                                ],
                                "failsafeOutboundHostPorts": [
                                    {"protocol": "UDP", "port": 53},
                                    {"protocol": "UDP", "port": 67},
                                    {"protocol": "TCP", "port": 179},
                                    {"protocol": "TCP", "port": 2379},
                                    {"protocol": "TCP", "port": 6443},
                                ],
                            },
                        }
                    ),
                ),
                Doc(
                    "KubeControllersConfiguration",
                    dump(
                        {
                            "apiVersion": "projectcalico.org/v3",
                            "kind": "KubeControllersConfiguration",
                            "metadata": {"name": "default"},
                            "spec": {
                                "logSeverityScreen": "Info",
                                "healthChecks": "Enabled",
                                "controllers": {"node": {"reconcilerPeriod": "5m", "syncLabels": "Enabled"}},
                            },
                        }
                    ),
                ),
            ],
        )
        pools = [
            Doc(
                "IPPool",
                dump(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "IPPool",
                        "metadata": {"name": "default-ipv4-ippool"},
                        "spec": {
                            "cidr": POD_CIDR,
                            "blockSize": 26,
                            "ipipMode": "Never",
                            "vxlanMode": "CrossSubnet",
                            "natOutgoing": True,
                            "nodeSelector": "all()",
                        },
                    }
                ),
            ),
            Doc(
                "IPPool",
                dump(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "IPPool",
                        "metadata": {"name": "default-ipv6-ippool"},
                        "spec": {"cidr": "fd00:10:244::/48", "blockSize": 122, "natOutgoing": False},
                    }
                ),
            ),
        ]
        for rack in range(self.racks):
            pools.append(
                Doc(
                    "IPPool",
                    dump(
                        {
                            "apiVersion": "projectcalico.org/v3",
                            "kind": "IPPool",
                            "metadata": {"name": f"rack-{rack}-pool"},
                            "spec": {
                                "cidr": f"192.168.{rack * 4 % 256}.0/22",
                                "blockSize": 26,
                                "ipipMode": "Never",
                                "natOutgoing": True,
                                "disabled": True,
                                "nodeSelector": f"rack == 'r{rack}'",
                            },
                        }
                    ),
                )
            )
        for i, chunk in enumerate(_chunks(pools, 10)):
            r.add(f"cluster/calico/ippools{'' if i == 0 else f'-{i}'}.yaml", chunk)
        self.host_endpoints()
        self.host_baseline()

    @property
    def racks(self) -> int:
        return max(1, min(60, self.nodes // 20))

    def node_ip(self, n: int) -> str:
        return str(NODE_CIDR.network_address + 256 + n)

    def host_endpoints(self) -> None:
        heps: list[Doc] = []
        for n in range(self.nodes):
            node = f"node-{n:04d}"
            rack = n % self.racks
            interfaces = [("eth0", [self.node_ip(n)])]
            if n % 10 == 3:
                interfaces.append(("eth1", [f"10.241.{n // 256 % 256}.{n % 256}"]))
            for iface, ips in interfaces:
                spec: dict[str, Any] = {"node": node, "interfaceName": iface, "expectedIPs": ips}
                if n % 7 == 0:
                    spec["ports"] = [
                        {"name": "kubelet", "port": 10250, "protocol": "TCP"},
                        {"name": "node-exporter", "port": 9100, "protocol": "TCP"},
                    ]
                heps.append(
                    Doc(
                        "HostEndpoint",
                        dump(
                            {
                                "apiVersion": "projectcalico.org/v3",
                                "kind": "HostEndpoint",
                                "metadata": {
                                    "name": f"{node}-{iface}",
                                    "labels": {
                                        "k8s-role": "node",
                                        "rack": f"r{rack}",
                                        "topology.kubernetes.io/zone": _ZONES[n % len(_ZONES)],
                                        "interface": "public" if iface == "eth0" else "storage",
                                    },
                                },
                                "spec": spec,
                            }
                        ),
                    )
                )
        for i, chunk in enumerate(_chunks(heps, HEPS_PER_FILE)):
            self.repo.add(f"cluster/calico/hostendpoints/hosts-{i:04d}.yaml", chunk)

    def gnp(self, name: str, spec: dict[str, Any], comments: Sequence[str] = ()) -> Doc:
        return Doc(
            "GlobalNetworkPolicy",
            dump(
                {
                    "apiVersion": "projectcalico.org/v3",
                    "kind": "GlobalNetworkPolicy",
                    "metadata": {"name": name},
                    "spec": spec,
                },
                comments,
            ),
        )

    def host_baseline(self) -> None:
        node = "k8s-role == 'node'"
        docs = [
            self.gnp(
                "allow-to-pods",
                {
                    "selector": node,
                    "order": 100,
                    "types": ["Ingress"],
                    "applyOnForward": True,
                    "preDNAT": True,
                    "ingress": [
                        Item(
                            "Allow traffic forwarded to pods",
                            action="Allow",
                            destination={"nets": [Note(POD_CIDR, "Pod CIDR")]},
                        )
                    ],
                },
                ["Step 2: without this rule, pod-to-pod traffic is blocked (the policy applies to forwarded traffic)."],
            ),
            self.gnp(
                "allow-traffic-hostendpoints",
                {
                    "selector": node,
                    "order": 100,
                    "types": ["Ingress"],
                    "ingress": [
                        Item(
                            "Allow traffic to the node (not nodePorts, TCP)",
                            action="Allow",
                            protocol="TCP",
                            destination={"selector": node, "notPorts": Flow([Note(NODE_PORT_RANGE, "nodePort range")])},
                        ),
                        Item(
                            "Allow traffic to the node (not nodePorts, UDP)",
                            action="Allow",
                            protocol="UDP",
                            destination={"selector": node, "notPorts": Flow([NODE_PORT_RANGE])},
                        ),
                    ],
                },
            ),
            self.gnp(
                "deny-cluster-ip-range",
                {
                    "selector": node,
                    "order": 2000,
                    "types": ["Ingress"],
                    "applyOnForward": True,
                    "preDNAT": True,
                    "ingress": [
                        Item(
                            "Deny the advertised service range to everyone not allowed above",
                            action="Deny",
                            destination={"nets": [str(SERVICE_RANGE)]},
                        )
                    ],
                },
            ),
            self.gnp(
                "allow-bgp-from-tor",
                {
                    "selector": node,
                    "order": 50,
                    "types": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "source": {"nets": ["10.250.0.0/16"]},
                            "destination": {"ports": Flow([179])},
                        }
                    ],
                    "egress": [
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "destination": {"nets": ["10.250.0.0/16"], "ports": Flow([179])},
                        }
                    ],
                },
            ),
            self.gnp(
                "allow-ssh-from-bastion",
                {
                    "selector": node,
                    "order": 50,
                    "types": ["Ingress"],
                    "ingress": [
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "source": {"nets": ["10.9.8.0/29"]},
                            "destination": {"ports": [22]},
                        }
                    ],
                },
            ),
            self.gnp(
                "allow-local-nodeports",
                {
                    "selector": node,
                    "order": 200,
                    "types": ["Ingress"],
                    "applyOnForward": True,
                    "preDNAT": True,
                    "ingress": [
                        Item(
                            "externalTrafficPolicy: Local services keep the client address (guide: local mode)",
                            action="Allow",
                            protocol="TCP",
                            source={"nets": list(_CLIENT_NETS[:4])},
                            destination={"ports": Flow([NODE_PORT_RANGE])},
                        )
                    ],
                },
            ),
            self.gnp(
                "host-egress",
                {
                    "selector": node,
                    "order": 300,
                    "types": ["Egress"],
                    "egress": [{"action": "Allow"}],
                },
            ),
            self.gnp(
                "default-deny-pods",
                {
                    "selector": "projectcalico.org/namespace not in {'kube-system', 'calico-system', 'tigera-system'}",
                    "order": 5000,
                    "types": ["Ingress", "Egress"],
                    "egress": [
                        {
                            "action": "Allow",
                            "protocol": "UDP",
                            "destination": {
                                "selector": "k8s-app == 'kube-dns'",
                                "namespaceSelector": "projectcalico.org/name == 'kube-system'",
                                "ports": [53],
                            },
                        }
                    ],
                },
            ),
        ]
        # The guide's own copy-paste slip (rules listed under `types`, no `ingress:` key), kept by some repos.
        for i in range(max(1, self.target // 10000)):
            self.defects["rules-under-types"] += 1
            rule = {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {"selector": node, "notPorts": Flow([NODE_PORT_RANGE])},
            }
            docs.append(
                self.gnp(
                    f"allow-traffic-hostendpoints-legacy-{i}",
                    {"selector": node, "types": ["Ingress", rule]},
                    ["Copied from the guide as published: the `ingress:` key is missing."],
                )
            )
        self.repo.add("cluster/calico/policies/host-baseline.yaml", docs)

    def cluster_ip_policies(self) -> None:
        """Guide step 2: preDNAT + applyOnForward allow lists, one rule per pinned cluster IP."""
        pinned = [a for a in self.apps if a.cluster_ip]
        policies: list[Doc] = []
        for i, chunk in enumerate(_chunks(pinned, DOCS_PER_CHUNK_POLICY)):
            rules = []
            for app in chunk:
                rule: dict[str, Any] = {"action": "Allow"}
                dest: dict[str, Any] = {
                    "nets": [Note(f"{app.cluster_ip}/32", f"Cluster IP of {app.namespace}/{app.name}")]
                }
                if self.chance(0.4):  # numeric ports need a protocol
                    rule["protocol"] = "TCP"
                    dest["ports"] = Flow([80, 443])
                rule["source"] = {"nets": list(app.client_nets)}
                rule["destination"] = dest
                rules.append(Item(f"Allow {', '.join(app.client_nets)} to access {app.namespace}/{app.name}", rule))
            policies.append(
                self.gnp(
                    f"allow-cluster-ips-{i:04d}",
                    {
                        "selector": "k8s-role == 'node'",
                        "order": 500,
                        "types": ["Ingress"],
                        "applyOnForward": True,
                        "preDNAT": True,
                        "ingress": rules,
                    },
                )
            )
        for i, chunk in enumerate(_chunks(policies, POLICIES_PER_FILE)):
            self.repo.add(f"cluster/calico/policies/cluster-ips/allow-cluster-ips-{i:04d}.yaml", chunk)

    # --- namespaces ------------------------------------------------------------------------

    def namespace_file(self, ns: str) -> list[Doc]:
        team, env = ns.split("-", 1)
        docs = [
            Doc(
                "Namespace",
                dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {
                            "name": ns,
                            "labels": {"team": team, "env": env.split("-")[0], "istio-injection": "disabled"},
                        },
                    }
                ),
            ),
            Doc(
                "NetworkPolicy (Kubernetes)",
                dump(
                    {
                        "apiVersion": "networking.k8s.io/v1",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": "default-deny-ingress", "namespace": ns},
                        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
                    }
                ),
            ),
            Doc(
                "NetworkPolicy (Calico)",
                dump(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": "allow-dns-egress", "namespace": ns},
                        "spec": {
                            "selector": "all()",
                            "order": 100,
                            "types": ["Egress"],
                            "egress": [
                                {
                                    "action": "Allow",
                                    "protocol": proto,
                                    "destination": {
                                        "selector": "k8s-app == 'kube-dns'",
                                        "namespaceSelector": "projectcalico.org/name == 'kube-system'",
                                        "ports": Flow([53]),
                                    },
                                }
                                for proto in ("UDP", "TCP")
                            ]
                            + [
                                {
                                    "action": "Allow",
                                    "destination": {"namespaceSelector": f"projectcalico.org/name == '{ns}'"},
                                }
                            ],
                        },
                    }
                ),
            ),
            Doc(
                "ResourceQuota",
                dump(
                    {
                        "apiVersion": "v1",
                        "kind": "ResourceQuota",
                        "metadata": {"name": "compute", "namespace": ns},
                        "spec": {"hard": {"requests.cpu": "40", "requests.memory": "80Gi", "pods": "200"}},
                    }
                ),
            ),
            Doc(
                "LimitRange",
                dump(
                    {
                        "apiVersion": "v1",
                        "kind": "LimitRange",
                        "metadata": {"name": "defaults", "namespace": ns},
                        "spec": {
                            "limits": [
                                {
                                    "type": "Container",
                                    "default": {"cpu": "500m", "memory": "512Mi"},
                                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                                }
                            ]
                        },
                    }
                ),
            ),
            Doc(
                "RoleBinding",
                dump(
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "RoleBinding",
                        "metadata": {"name": f"{team}-edit", "namespace": ns},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                        "subjects": [
                            {"kind": "Group", "name": f"{team}-developers", "apiGroup": "rbac.authorization.k8s.io"}
                        ],
                    }
                ),
            ),
            Doc(
                "ServiceAccount",
                dump({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": ns}}),
            ),
            Doc(
                "NetworkPolicy (Calico)",
                dump(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": "allow-monitoring", "namespace": ns},
                        "spec": {
                            "selector": "has(app)",
                            "order": 900,
                            "types": ["Ingress"],
                            "ingress": [
                                {
                                    "action": "Allow",
                                    "protocol": "TCP",
                                    "source": {
                                        "namespaceSelector": "kubernetes.io/metadata.name == 'monitoring'",
                                        "selector": "app in {'prometheus', 'blackbox-exporter'}",
                                    },
                                    "destination": {"ports": Flow([9090, "metrics"])},
                                }
                            ],
                        },
                    }
                ),
            ),
        ]
        return docs

    def extra_namespace_files(self, ns: str) -> None:
        if self.chance(0.3):
            self.repo.add(
                f"namespaces/{ns}/kustomization.yaml",
                [
                    Doc(
                        "Kustomization",
                        dump(
                            {
                                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                                "kind": "Kustomization",
                                "namespace": ns,
                                "resources": ["namespace.yaml"],
                                "commonLabels": {"managed-by": "kustomize"},
                            }
                        ),
                    )
                ],
            )
        if self.chance(0.2):
            self.repo.add(
                f"namespaces/{ns}/values.yaml",
                [
                    Doc(
                        "(helm values)",
                        dump(
                            {
                                "replicaCount": 2,
                                "image": {
                                    "repository": f"registry.local/{ns}/app",
                                    "tag": "1.0.0",
                                    "pullPolicy": "IfNotPresent",
                                },
                                "service": {"type": "ClusterIP", "port": 80},
                                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                                "nodeSelector": {},
                                "tolerations": [],
                            },
                            ["Default values for the chart (no apiVersion: not a resource)."],
                        ),
                    )
                ],
            )
        if self.defect("unrendered-template", scale=0.5):
            text = (
                'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include "app.fullname" . }}\n'
                f"  namespace: {ns}\nspec:\n  type: {{{{ .Values.service.type }}}}\n  ports:\n"
                "    - port: {{ .Values.service.port }}\n      targetPort: http\n"
            )
            self.repo.add_raw(f"namespaces/{ns}/chart/templates/service.yaml", text, 1, "(broken: template)")

    # --- one application ---------------------------------------------------------------------

    def app(self, ns: str) -> tuple[App, list[Doc], bool]:
        """One application file; the flag says it is to be written broken (a merge-conflict leftover)."""
        rng = self.rng
        team = ns.split("-", 1)[0]
        name = self.unique(ns, f"{rng.choice(_WORDS_A)}-{rng.choice(_WORDS_B)}")
        stateful = self.chance(0.2)
        n = rng.randint(1, 40)
        http, https = rng.choice((8080, 8000, 3000, 9000)), rng.choice((8443, 9443))
        pod_labels = {
            "app": name,
            "k8s-svc": f"svc-{name}",
            "tier": rng.choice(("web", "api", "backend")),
            "version": f"v{n % 4 + 1}",
        }
        container_ports = [
            {"name": "http", "containerPort": http, "protocol": "TCP"},
            {"name": "https", "containerPort": https, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090},
        ]
        if self.chance(0.2):
            container_ports.append({"name": "grpc", "containerPort": 50051, "protocol": "TCP"})
        image = rng.choice(_IMAGES).format(app=name, team=team, n=n)
        pod_spec: dict[str, Any] = {
            "serviceAccountName": name,
            "containers": [
                {
                    "name": name.split("-")[0],
                    "image": image,
                    "ports": container_ports,
                    "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": str(http)}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                }
            ],
        }
        if self.chance(0.3):
            pod_spec["containers"].append(
                {
                    "name": "envoy",
                    "image": "envoyproxy/envoy:v1.29",
                    "ports": [{"name": "admin", "containerPort": 9901}],
                }
            )
        workload_spec: dict[str, Any] = {
            "replicas": rng.choice((1, 2, 2, 3, 5)),
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        }
        docs: list[Doc] = []
        if stateful:
            workload_spec["serviceName"] = f"{name}-headless"
        kind = "StatefulSet" if stateful else "Deployment"
        docs.append(
            Doc(
                kind,
                dump(
                    {
                        "apiVersion": "apps/v1",
                        "kind": kind,
                        "metadata": {"name": name, "namespace": ns, "labels": {"app": name, "team": team}},
                        "spec": workload_spec,
                    }
                ),
            )
        )
        # The main Service: cluster mode, pinned cluster IP (guide step 1).
        cluster_ip: str | None = self.cluster_ip()
        comment = ["Cluster IP pinned: the allow-cluster-ips policies name it (guide step 1)."]
        if self.defect("unpinned-cluster-ip", scale=5):
            cluster_ip, comment = None, []
        elif self.defect("cluster-ip-outside-service-range", scale=0.3):
            cluster_ip = f"10.200.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        by_name = self.chance(0.6)
        svc_ports = [
            {"name": "http", "port": 80, "targetPort": "http" if by_name else http, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": https},
        ]
        spec: dict[str, Any] = {"type": "ClusterIP"}
        if cluster_ip:
            spec["clusterIP"] = cluster_ip
        spec |= {"selector": {"app": name}, "ports": svc_ports}
        docs.append(self.service(ns, name, spec, {"app": name}, comment))
        if stateful:
            docs.append(
                self.service(
                    ns,
                    f"{name}-headless",
                    {"clusterIP": "None", "selector": {"app": name}, "ports": [{"name": "http", "port": http}]},
                    {"app": name},
                )
            )
        local_mode = self.chance(0.25)
        if local_mode:  # NodePort / LoadBalancer with externalTrafficPolicy: Local keeps the client address
            lb = self.chance(0.5)
            ext_spec: dict[str, Any] = {"type": "LoadBalancer" if lb else "NodePort", "externalTrafficPolicy": "Local"}
            ext_spec |= {
                "selector": {"app": name},
                "ports": [
                    {"name": "https", "port": 443, "targetPort": "https", "nodePort": rng.randrange(30000, 32768)}
                ],
            }
            if lb and self.chance(0.5):
                ext_spec["loadBalancerIP"] = f"198.51.100.{rng.randrange(1, 255)}"
            docs.append(self.service(ns, f"{name}-external", ext_spec, {"app": name, "exposure": "external"}))
        target_numbers = (http, https)
        clients = tuple(rng.sample(_CLIENT_NETS, rng.randint(1, 3)))
        docs.append(
            Doc(
                "ServiceAccount",
                dump(
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                    }
                ),
            )
        )
        cm_name = name
        if self.apps and self.apps[-1].namespace == ns and self.defect("duplicate-resource"):
            cm_name = self.apps[-1].name  # the same ConfigMap defined twice in one namespace
        docs.append(
            Doc(
                "ConfigMap",
                dump(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": cm_name, "namespace": ns},
                        "data": {
                            "LOG_FORMAT": "json",
                            "UPSTREAM": f"http://{rng.choice(_WORDS_A)}-api.{ns}.svc.cluster.local",
                            "config.yaml": f"server:\n  port: {http}\n  tls: true\nfeatures:\n  beta: false\n",
                        },
                    }
                ),
            )
        )
        # The pods' own policy (guide: "select the same set of pods as your Service"). Local mode keeps the
        # client's address, so clients are allowed by their nets; in cluster mode the pods see the node's
        # address after SNAT, so the nodes are allowed (a client rule there is a classic slip, kept rarely).
        ports = Flow(["http", https] if by_name else [http, https])
        clients_rule = Item(
            "External clients (local mode keeps their address)",
            action="Allow",
            protocol="TCP",
            source={"nets": list(clients)},
            destination={"ports": ports},
        )
        nodes_rule = Item(
            "Nodes forwarding cluster-IP traffic (cluster mode: the source is SNATed to the node)",
            action="Allow",
            protocol="TCP",
            source={"nets": [str(NODE_CIDR)]},
            destination={"ports": ports},
        )
        if local_mode:
            first = [clients_rule, nodes_rule]
        elif self.defect("client-rule-after-snat", scale=0.5):
            first = [clients_rule]
        else:
            first = [nodes_rule]
        ingress: list[Any] = [
            *first,
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {
                    "selector": "app.kubernetes.io/name == 'ingress-nginx'",
                    "namespaceSelector": "projectcalico.org/name == 'ingress-nginx'",
                },
                "destination": {"ports": Flow([http])},
            },
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"selector": "app == 'prometheus'", "namespaceSelector": "team == 'observability'"},
                "destination": {"ports": Flow([9090])},
            },
        ]
        calico_spec: dict[str, Any] = {
            "selector": f"app == '{name}'" if self.chance(0.7) else f"k8s-svc == 'svc-{name}'",
            "order": rng.choice((100, 200, 500, 1000)),
            "types": ["Ingress"],
            "ingress": ingress,
        }
        if self.defect("misspelt-field", scale=0.5):
            calico_spec["ingress"][-1]["destinaton"] = calico_spec["ingress"][-1].pop("destination")
        docs.append(
            Doc(
                "NetworkPolicy (Calico)",
                dump(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": f"allow-{name}", "namespace": ns},
                        "spec": calico_spec,
                    }
                ),
            )
        )
        docs.append(
            Doc(
                "NetworkPolicy (Kubernetes)",
                dump(
                    {
                        "apiVersion": "networking.k8s.io/v1",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": f"{name}-scraping", "namespace": ns},
                        "spec": {
                            "podSelector": {"matchLabels": {"app": name}},
                            "policyTypes": ["Ingress"],
                            "ingress": [
                                {
                                    "from": [
                                        {"ipBlock": {"cidr": str(NODE_CIDR)}},  # node-exporter, kubelet probes
                                        {
                                            "namespaceSelector": {
                                                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                                            },
                                            "podSelector": {"matchLabels": {"app": "prometheus"}},
                                        },
                                    ],
                                    "ports": [
                                        {"protocol": "TCP", "port": "metrics"},
                                        {"protocol": "TCP", "port": 9090},
                                    ],
                                }
                            ],
                        },
                    }
                ),
            )
        )
        if cluster_ip and self.chance(0.6):  # guide step 3: let the nodes reach the service pods
            docs.append(
                self.gnp(
                    f"allow-nodes-{ns}-{name}",
                    {
                        "selector": f"k8s-svc == 'svc-{name}' && projectcalico.org/namespace == '{ns}'",
                        "types": ["Ingress"],
                        "ingress": [
                            {
                                "action": "Allow",
                                "protocol": proto,
                                "source": {"selector": "k8s-role == 'node'"},
                                "destination": {"ports": Flow(list(target_numbers))},
                            }
                            for proto in ("TCP", "UDP")
                        ],
                    },
                )
            )
        if self.chance(0.5):
            docs.append(
                Doc(
                    "HorizontalPodAutoscaler",
                    dump(
                        {
                            "apiVersion": "autoscaling/v2",
                            "kind": "HorizontalPodAutoscaler",
                            "metadata": {"name": name, "namespace": ns},
                            "spec": {
                                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                                "minReplicas": 2,
                                "maxReplicas": 10,
                                "metrics": [
                                    {
                                        "type": "Resource",
                                        "resource": {
                                            "name": "cpu",
                                            "target": {"type": "Utilization", "averageUtilization": 70},
                                        },
                                    }
                                ],
                            },
                        }
                    ),
                )
            )
        if self.chance(0.5):
            docs.append(
                Doc(
                    "PodDisruptionBudget",
                    dump(
                        {
                            "apiVersion": "policy/v1",
                            "kind": "PodDisruptionBudget",
                            "metadata": {"name": name, "namespace": ns},
                            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": name}}},
                        }
                    ),
                )
            )
        if self.chance(0.4):
            docs.append(
                Doc(
                    "Ingress",
                    dump(
                        {
                            "apiVersion": "networking.k8s.io/v1",
                            "kind": "Ingress",
                            "metadata": {
                                "name": name,
                                "namespace": ns,
                                "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "HTTP"},
                            },
                            "spec": {
                                "ingressClassName": "nginx",
                                "rules": [
                                    {
                                        "host": f"{name}.{ns}.example.com",
                                        "http": {
                                            "paths": [
                                                {
                                                    "path": "/",
                                                    "pathType": "Prefix",
                                                    "backend": {"service": {"name": name, "port": {"name": "http"}}},
                                                }
                                            ]
                                        },
                                    }
                                ],
                            },
                        }
                    ),
                )
            )
        if self.chance(0.5):
            docs.append(
                Doc(
                    "ServiceMonitor",
                    dump(
                        {
                            "apiVersion": "monitoring.coreos.com/v1",
                            "kind": "ServiceMonitor",
                            "metadata": {"name": name, "namespace": ns, "labels": {"release": "prometheus"}},
                            "spec": {
                                "selector": {"matchLabels": {"app": name}},
                                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
                            },
                        }
                    ),
                )
            )
        in_range = cluster_ip is not None and ipaddress.ip_address(cluster_ip) in SERVICE_RANGE
        app = App(ns, name, cluster_ip if in_range else None, target_numbers, clients)
        return app, docs, self.defect("broken-yaml", scale=0.3)

    def service(
        self, ns: str, name: str, spec: dict[str, Any], labels: dict[str, str], comments: Sequence[str] = ()
    ) -> Doc:
        return Doc(
            "Service",
            dump(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "spec": spec,
                },
                comments,
            ),
        )

    # --- noise -----------------------------------------------------------------------------

    def noise_files(self) -> None:
        r = self.repo
        r.add(
            ".gitlab-ci.yml",
            [
                Doc(
                    "(ci)",
                    dump(
                        {
                            "stages": ["lint", "validate", "deploy"],
                            "variables": {"KUBECONFIG": "/tmp/kubeconfig", "AUDIT_FORMAT": "sarif"},
                            "lint": {
                                "stage": "lint",
                                "image": "python:3.11",
                                "script": ["pip install calico-audit", "audit --format sarif -o audit.sarif ."],
                            },
                            "deploy": {
                                "stage": "deploy",
                                "script": ["kubectl apply -k namespaces/", "calicoctl apply -f cluster/calico/"],
                                "only": ["main"],
                            },
                        }
                    ),
                )
            ],
        )
        r.add(
            ".github/workflows/ci.yml",
            [
                Doc(
                    "(ci)",
                    dump(
                        {
                            "name": "manifests",
                            "on": {"push": {"branches": ["main"]}, "pull_request": {}},
                            "jobs": {
                                "audit": {
                                    "runs-on": "ubuntu-latest",
                                    "steps": [
                                        {"uses": "actions/checkout@v4"},
                                        {"run": "pip install calico-audit"},
                                        {"run": "audit --format github ."},
                                    ],
                                }
                            },
                        }
                    ),
                )
            ],
        )
        r.add(
            ".pre-commit-config.yaml",
            [
                Doc(
                    "(ci)",
                    dump(
                        {
                            "repos": [
                                {
                                    "repo": "local",
                                    "hooks": [
                                        {
                                            "id": "calico-audit",
                                            "name": "calico-audit",
                                            "entry": "audit",
                                            "language": "system",
                                            "types": ["yaml"],
                                        }
                                    ],
                                }
                            ]
                        }
                    ),
                )
            ],
        )
        r.add(
            "docs/mkdocs.yml",
            [
                Doc(
                    "(ci)",
                    dump(
                        {
                            "site_name": "Cluster network runbook",
                            "nav": [{"Home": "index.md"}, {"Policies": "policies.md"}],
                            "theme": {"name": "material"},
                        }
                    ),
                )
            ],
        )

    def pad(self) -> None:
        missing = self.target - self.repo.documents
        if missing <= 0:
            return
        docs = [
            Doc(
                "ConfigMap",
                dump(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"cluster-settings-{i}", "namespace": "kube-system"},
                        "data": {"cluster": "bench", "index": str(i)},
                    }
                ),
            )
            for i in range(missing)
        ]
        for i, chunk in enumerate(_chunks(docs, 10)):
            self.repo.add(f"cluster/config/settings-{i:03d}.yaml", chunk)


class NodeHeavyGenerator(Generator):
    """The node-heavy shape of issue 11: a large estate with one HostEndpoint per node.

    At 20,000 documents: 3,500 HostEndpoints (all ``k8s-role: node``, each with its own
    ``expectedIPs``), about 6,000 GlobalNetworkPolicies (for every exposed Service a preDNAT +
    applyOnForward allow of its cluster IP, and for most of them a pod policy letting the nodes reach
    the target ports, plus the guide's host baseline), and 3,500 each of Services, Deployments and
    NetworkPolicies. The shares are the same at every size (17.5% nodes, 17.5% applications).
    """

    NODE_SHARE = 0.175
    APP_SHARE = 0.175

    def __init__(self, docs: int, seed: int, nodes: int | None = None, defect_rate: float = 0.01) -> None:
        super().__init__(docs, seed, nodes=nodes, defect_rate=defect_rate)
        self.nodes = nodes if nodes is not None else max(3, round(docs * self.NODE_SHARE))
        self.app_count = max(1, round(docs * self.APP_SHARE))

    @property
    def racks(self) -> int:
        return 1

    def build(self) -> Repo:
        r = self.repo
        r.add(
            "cluster/calico/bgp.yaml",
            [
                Doc(
                    "BGPConfiguration",
                    dump(
                        {
                            "apiVersion": "projectcalico.org/v3",
                            "kind": "BGPConfiguration",
                            "metadata": {"name": "default"},
                            "spec": {"serviceClusterIPs": [{"cidr": str(SERVICE_RANGE)}], "asNumber": 64512},
                        }
                    ),
                )
            ],
        )
        heps: list[Doc] = []
        for n in range(self.nodes):
            node = f"node-{n:05d}"
            heps.append(
                Doc(
                    "HostEndpoint",
                    dump(
                        {
                            "apiVersion": "projectcalico.org/v3",
                            "kind": "HostEndpoint",
                            "metadata": {"name": f"{node}-eth0", "labels": {"k8s-role": "node"}},
                            "spec": {"node": node, "interfaceName": "eth0", "expectedIPs": [self.node_ip(n)]},
                        }
                    ),
                )
            )
        for i, chunk in enumerate(_chunks(heps, HEPS_PER_FILE)):
            r.add(f"cluster/calico/hostendpoints/hosts-{i:04d}.yaml", chunk)
        self.host_baseline_small()
        baseline = self.repo.documents
        pod_policies = self.target - baseline - 4 * self.app_count
        if pod_policies < 0:
            raise ValueError(f"too few documents for the node-heavy shape: {self.target}")
        namespaces = [f"{team}-{env}" for env in _ENVS for team in _TEAMS]
        # Spread the pod policies evenly over the applications (deterministic, exact count).
        for i in range(self.app_count):
            ns = namespaces[i % len(namespaces)]
            with_pod_policy = (i + 1) * pod_policies // self.app_count > i * pod_policies // self.app_count
            self.node_heavy_app(ns, i, with_pod_policy)
        assert self.repo.documents == self.target, (self.repo.documents, self.target)
        return self.repo

    def host_baseline_small(self) -> None:
        node = "k8s-role == 'node'"
        docs = [
            self.gnp(
                "allow-to-pods",
                {
                    "selector": node,
                    "order": 100,
                    "types": ["Ingress"],
                    "applyOnForward": True,
                    "preDNAT": True,
                    "ingress": [{"action": "Allow", "destination": {"nets": [POD_CIDR]}}],
                },
            ),
            self.gnp(
                "allow-traffic-hostendpoints",
                {
                    "selector": node,
                    "order": 100,
                    "types": ["Ingress"],
                    "ingress": [
                        {
                            "action": "Allow",
                            "protocol": proto,
                            "destination": {"selector": node, "notPorts": Flow([NODE_PORT_RANGE])},
                        }
                        for proto in ("TCP", "UDP")
                    ],
                },
            ),
            self.gnp(
                "deny-cluster-ip-range",
                {
                    "selector": node,
                    "order": 2000,
                    "types": ["Ingress"],
                    "applyOnForward": True,
                    "preDNAT": True,
                    "ingress": [{"action": "Deny", "destination": {"nets": [str(SERVICE_RANGE)]}}],
                },
            ),
            self.gnp(
                "host-egress", {"selector": node, "order": 300, "types": ["Egress"], "egress": [{"action": "Allow"}]}
            ),
        ]
        self.repo.add("cluster/calico/policies/host-baseline.yaml", docs)

    def node_heavy_app(self, ns: str, i: int, with_pod_policy: bool) -> None:
        rng = self.rng
        name = self.unique(ns, f"{rng.choice(_WORDS_A)}-{rng.choice(_WORDS_B)}")
        http = rng.choice((8080, 8000, 3000, 9000))
        labels = {"app": name, "k8s-svc": f"svc-{name}"}
        pinned = not self.defect("unpinned-cluster-ip", scale=0.5)
        cluster_ip = self.cluster_ip()
        clients = tuple(rng.sample(_CLIENT_NETS, rng.randint(1, 2)))
        spec: dict[str, Any] = {
            "type": "ClusterIP",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": http, "protocol": "TCP"}],
        }
        if pinned:
            spec["clusterIP"] = cluster_ip
        docs = [
            Doc(
                "Deployment",
                dump(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {
                            "replicas": rng.choice((1, 2, 3)),
                            "selector": {"matchLabels": {"app": name}},
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "main",
                                            "image": f"registry.local/{ns}/{name}:1.{i % 10}.0",
                                            "ports": [{"name": "http", "containerPort": http, "protocol": "TCP"}],
                                        }
                                    ]
                                },
                            },
                        },
                    }
                ),
            ),
            self.service(ns, name, spec, {"app": name}),
            Doc(
                "NetworkPolicy (Calico)",
                dump(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": f"allow-{name}", "namespace": ns},
                        "spec": {
                            "selector": f"app == '{name}'",
                            "types": ["Ingress"],
                            "ingress": [
                                {
                                    "action": "Allow",
                                    "protocol": "TCP",
                                    "source": {"nets": [str(NODE_CIDR)]},
                                    "destination": {"ports": Flow([http])},
                                }
                            ],
                        },
                    }
                ),
            ),
            self.gnp(
                f"allow-svc-{ns}-{name}",
                {
                    "selector": "k8s-role == 'node'",
                    "order": 500,
                    "types": ["Ingress"],
                    "applyOnForward": True,
                    "preDNAT": True,
                    "ingress": [
                        {
                            "action": "Allow",
                            "source": {"nets": list(clients)},
                            "destination": {"nets": [f"{cluster_ip}/32"]},
                        }
                    ],
                },
            ),
        ]
        if with_pod_policy:
            docs.append(
                self.gnp(
                    f"allow-nodes-{ns}-{name}",
                    {
                        "selector": f"k8s-svc == 'svc-{name}' && projectcalico.org/namespace == '{ns}'",
                        "types": ["Ingress"],
                        "ingress": [
                            {
                                "action": "Allow",
                                "protocol": "TCP",
                                "source": {"selector": "k8s-role == 'node'"},
                                "destination": {"ports": Flow([http])},
                            }
                        ],
                    },
                )
            )
        self.apps.append(App(ns, name, cluster_ip if pinned else None, (http,), clients))
        self.repo.add(f"namespaces/{ns}/{name}.yaml", docs)


SHAPES: dict[str, type[Generator]] = {"standard": Generator, "node-heavy": NodeHeavyGenerator}


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


@dataclass
class Summary:
    documents: int
    files: int
    bytes: int
    nodes: int
    apps: int
    kinds: dict[str, int]
    defects: dict[str, int]
    seed: int
    shape: str = "standard"
    generator_version: int = GENERATOR_VERSION

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def generate(
    docs: int, seed: int, out: str, nodes: int | None = None, defect_rate: float = 0.01, shape: str = "standard"
) -> Summary:
    """Write the repository of ``shape`` to ``out`` (replacing it) and return what was written."""
    gen = SHAPES[shape](docs, seed, nodes=nodes, defect_rate=defect_rate)
    repo = gen.build()
    if os.path.exists(out):
        shutil.rmtree(out)
    total = 0
    texts: dict[str, str] = dict(repo.raw_files)
    for path, file_docs in repo.files.items():
        parts = [d.text for d in file_docs]
        texts[path] = ("---\n" if len(parts) > 1 and gen.rng.random() < 0.3 else "") + "---\n".join(parts)
    for path in sorted(texts):
        full = os.path.join(out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        data = texts[path].encode("utf-8")
        with open(full, "wb") as fh:
            fh.write(data)
        total += len(data)
    return Summary(
        documents=repo.documents,
        files=len(texts),
        bytes=total,
        nodes=gen.nodes,
        apps=len(gen.apps),
        kinds=dict(sorted(repo.tally().items(), key=lambda kv: (-kv[1], kv[0]))),
        defects=dict(sorted(gen.defects.items())),
        seed=seed,
        shape=shape,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, required=True, help="number of YAML documents to write (>= 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    parser.add_argument("--nodes", type=int, help="nodes (one HostEndpoint each; default docs/100, 3..5000)")
    parser.add_argument("--defect-rate", type=float, default=0.01, help="share of deliberate mistakes (default 0.01)")
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default="standard",
        help="standard (few nodes, the guide's GitOps layout) or node-heavy (one HostEndpoint per node, "
        "one preDNAT allow and one pod policy per exposed Service)",
    )
    parser.add_argument("--summary", metavar="FILE", help="also write the summary as JSON to FILE")
    args = parser.parse_args(argv)
    if args.docs < 200:
        parser.error("--docs must be at least 200")
    summary = generate(args.docs, args.seed, args.out, args.nodes, args.defect_rate, args.shape)
    text = json.dumps(summary.as_dict(), indent=2)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
