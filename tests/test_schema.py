"""Tests for auditor.schema: the JSON Schemas themselves, the messages, the fast path, the real corpus."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from auditor import schema
from auditor.schema import SchemaIssue, has_schema, validate

try:  # the project's loader gives exactly the data the CA002 rule will see
    from auditor.load import SourceFile, parse_text

    def load_all(text: str, name: str = "test.yaml") -> list[Any]:
        docs, _problems = parse_text(SourceFile(name, None, text))
        return [d.data for d in docs]

except ImportError:  # pragma: no cover - fallback while the loader is being written
    from ruamel.yaml import YAML

    def load_all(text: str, name: str = "test.yaml") -> list[Any]:
        return list(YAML(typ="safe", pure=True).load_all(text))


def load(text: str) -> Any:
    docs = load_all(text)
    assert len(docs) == 1
    return docs[0]


CALICO = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
SCHEMA_FILES = sorted([*SCHEMA_DIR.glob("calico/*.json"), *SCHEMA_DIR.glob("kubernetes/*.json")])


def check(text: str) -> list[SchemaIssue]:
    obj = load(text)
    return validate(obj["apiVersion"], obj["kind"], obj)


def slow_issues(api_version: str, kind: str, obj: Any) -> list[SchemaIssue]:
    """The issues jsonschema alone finds (no fast path)."""
    catalog = schema._catalog()
    compiled = catalog.compiled(catalog.kinds[(api_version, kind)])
    return schema._issues(list(compiled.validator.iter_errors(obj)), obj, compiled.schema)


# --------------------------------------------------------------------------------------------
# The schema files
# --------------------------------------------------------------------------------------------


def test_schema_files_exist() -> None:
    names = {p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_FILES}
    assert (SCHEMA_DIR / "__init__.py").is_file()
    for kind in (
        "globalnetworkpolicy", "networkpolicy", "stagedglobalnetworkpolicy", "stagednetworkpolicy",
        "stagedkubernetesnetworkpolicy", "tier", "hostendpoint", "globalnetworkset", "networkset", "ippool",
        "bgpconfiguration", "bgppeer", "felixconfiguration", "kubecontrollersconfiguration", "_defs",
    ):  # fmt: skip
        assert f"calico/{kind}.json" in names
    for kind in (
        "service", "pod", "deployment", "statefulset", "daemonset", "replicaset", "replicationcontroller",
        "job", "cronjob", "namespace", "node", "serviceaccount", "networkpolicy", "_defs",
    ):  # fmt: skip
        assert f"kubernetes/{kind}.json" in names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.relative_to(SCHEMA_DIR).as_posix())
def test_schema_file_is_valid_draft_2020_12(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(doc)  # also compiles every `pattern` as a regex
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"].endswith("/" + path.relative_to(SCHEMA_DIR).as_posix())
    assert doc["title"] and doc["description"]
    if not path.name.startswith("_"):
        assert doc["x-kubernetes-group-version-kind"]
        assert doc["properties"]["metadata"]


def _registry() -> Registry:
    resources = [
        (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
        for doc in (json.loads(p.read_text(encoding="utf-8")) for p in SCHEMA_FILES)
    ]
    return Registry().with_resources(resources)


def test_important_fields_have_descriptions() -> None:
    docs = schema.schema_documents()
    gnp_spec = docs["calico/globalnetworkpolicy.json"]["properties"]["spec"]["properties"]
    for field in ("selector", "types", "ingress", "egress", "preDNAT", "doNotTrack", "applyOnForward", "order"):
        node = gnp_spec[field]
        described = "description" in node or "description" in _resolve(docs, "calico/_defs.json", node)
        assert described, field
    hep = docs["calico/hostendpoint.json"]["properties"]["spec"]["properties"]
    for field in ("node", "interfaceName", "expectedIPs"):
        assert hep[field]["description"]
    felix = docs["calico/felixconfiguration.json"]["properties"]["spec"]["properties"]
    for field in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts", "defaultEndpointToHostAction"):
        assert felix[field]["description"]


def _resolve(docs: dict[str, Any], base: str, node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    file, _, fragment = ref.partition("#")
    target: Any = docs[base if not file else f"{base.split('/')[0]}/{file}"]
    for part in fragment.strip("/").split("/"):
        target = target[part]
    return target


# --------------------------------------------------------------------------------------------
# Valid documents: one (at least) per kind
# --------------------------------------------------------------------------------------------

VALID_CALICO = {
    "GlobalNetworkPolicy": """
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
  labels: {team: net, k8s-master: "true"}
spec:
  tier: default
  order: 10.5
  selector: k8s-role == 'node'
  types: [Ingress]
  preDNAT: true
  applyOnForward: true
  namespaceSelector: ""
  serviceAccountSelector: ""
  performanceHints: [AssumeNeededOnEveryNode]
  ingress:
  - action: Allow
    protocol: TCP
    ipVersion: 4
    source:
      nets: [10.0.0.0/8]
      notNets: [10.1.0.0/16]
      selector: role == 'frontend'
      notSelector: has(bad)
      namespaceSelector: global()
      serviceAccounts: {names: [api], selector: app == 'x'}
    destination:
      nets: [10.96.0.10/32]
      ports: [80, "443", "8000:8080", http]
      notPorts: [22]
    metadata:
      annotations: {why: "cluster IP"}
  - action: Allow
    protocol: ICMP
    icmp: {type: 8, code: 0}
    notICMP: {type: 3}
    notProtocol: 17
  - action: Deny
    http:
      methods: [GET]
      paths: [{exact: /health}, {prefix: /api}]
  egress: []
""",
    "NetworkPolicy": """
kind: NetworkPolicy
metadata: {name: allow-web, namespace: prod}
spec:
  selector: app == 'web'
  types: [Ingress, Egress]
  ingress:
  - action: Allow
    source:
      services: {name: frontend}
  egress:
  - action: Allow
    destination:
      services: {name: kube-dns, namespace: kube-system}
""",
    "StagedGlobalNetworkPolicy": """
kind: StagedGlobalNetworkPolicy
metadata: {name: staged.deny-all}
spec:
  stagedAction: Set
  tier: staged
  selector: all()
  types: [Ingress, Egress]
""",
    "StagedNetworkPolicy": """
kind: StagedNetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  stagedAction: Delete
""",
    "StagedKubernetesNetworkPolicy": """
kind: StagedKubernetesNetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  stagedAction: Set
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 80, protocol: TCP}]
""",
    "Tier": """
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
""",
    "HostEndpoint": """
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels: {k8s-role: node}
spec:
  node: node1
  interfaceName: eth0
  expectedIPs: [10.0.0.1, "fd00::1"]
  profiles: [projectcalico-default-allow]
  ports:
  - {name: ssh, port: 22, protocol: TCP}
""",
    "GlobalNetworkSet": """
kind: GlobalNetworkSet
metadata: {name: blocked, labels: {deny: "true"}}
spec:
  nets: [1.2.3.4/32, 5.6.0.0/16]
""",
    "NetworkSet": """
kind: NetworkSet
metadata: {name: partners, namespace: prod}
spec:
  nets: [198.51.100.0/24]
""",
    "IPPool": """
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec:
  cidr: 192.168.0.0/16
  blockSize: 26
  ipipMode: CrossSubnet
  vxlanMode: Never
  natOutgoing: true
  disabled: false
  disableBGPExport: false
  nodeSelector: all()
  allowedUses: [Workload, Tunnel]
  assignmentMode: Automatic
""",
    "BGPConfiguration": """
kind: BGPConfiguration
metadata: {name: default}
spec:
  logSeverityScreen: info
  nodeToNodeMeshEnabled: false
  asNumber: 64512
  listenPort: 179
  bindMode: NodeIP
  serviceClusterIPs: [{cidr: 10.96.0.0/12}]
  serviceExternalIPs: [{cidr: 104.244.42.129/32}]
  serviceLoadBalancerIPs: [{cidr: 172.217.3.0/24}]
  serviceLoadBalancerAggregation: Disabled
  communities: [{name: bgp-large-community, value: "63400:300:100"}]
  prefixAdvertisements:
  - cidr: 172.218.4.0/26
    communities: [bgp-large-community, "63400:120"]
  nodeMeshMaxRestartTime: 120s
  nodeMeshPassword: {secretKeyRef: {name: bgp, key: mesh}}
""",
    "BGPPeer": """
kind: BGPPeer
metadata: {name: rack1-tor}
spec:
  nodeSelector: rack == 'rack-1'
  peerIP: "172.16.1.1:179"
  asNumber: 4200000001
  localASNumber: "1.10"
  keepOriginalNextHop: true
  nextHopMode: Keep
  sourceAddress: UseNodeIP
  maxRestartTime: 2m
  keepaliveTime: 20s
  ttlSecurity: 1
  filters: [export-only]
  reversePeering: Manual
  password: {secretKeyRef: {name: bgp-passwords, key: rack1}}
""",
    "FelixConfiguration": """
kind: FelixConfiguration
metadata: {name: default}
spec:
  logSeverityScreen: Info
  reportingInterval: 0s
  defaultEndpointToHostAction: Accept
  ipipEnabled: true
  bpfEnabled: false
  iptablesMarkMask: 0xffff0000
  kubeNodePortRanges: ["30000:32767", 40000]
  failsafeInboundHostPorts:
  - {protocol: TCP, port: 22}
  - {protocol: UDP, port: 68, net: 0.0.0.0/0}
  failsafeOutboundHostPorts: []
  routeTableRanges: [{min: 1, max: 250}]
  healthTimeoutOverrides: [{name: InternalDataplaneMainLoop, timeout: 1m30s}]
  bpfConntrackTimeouts: {tcpEstablished: 1h, udpTimeout: Auto}
""",
    "KubeControllersConfiguration": """
kind: KubeControllersConfiguration
metadata: {name: default}
spec:
  logSeverityScreen: Info
  healthChecks: Enabled
  etcdV3CompactionPeriod: 10m
  prometheusMetricsPort: 9094
  controllers:
    node:
      reconcilerPeriod: 5m
      leakGracePeriod: 15m
      syncLabels: Enabled
      hostEndpoint:
        autoCreate: Enabled
        createDefaultHostEndpoint: Enabled
        templates:
        - generateName: custom-host-endpoint
          interfaceCIDRs: [192.168.0.0/16]
          labels: {custom-label: template-host-endpoint}
          annotations: {custom-annotation: template-host-endpoint}
    policy: {reconcilerPeriod: 5m}
    workloadEndpoint: {reconcilerPeriod: 5m}
    serviceAccount: {reconcilerPeriod: 5m}
    namespace: {reconcilerPeriod: 5m}
    loadBalancer: {assignIPs: RequestedServicesOnly}
""",
}

POD_TEMPLATE = """
    metadata:
      labels: {app: web}
      annotations: {prometheus.io/port: "9090"}
      creationTimestamp: null
    spec:
      serviceAccountName: web
      hostNetwork: false
      containers:
      - name: web
        image: nginx
        env: [{name: A, value: b}]
        ports: [{containerPort: 80, name: http, protocol: TCP}]
"""

VALID_K8S = {
    ("v1", "Service"): """
metadata: {name: svc-a, namespace: prod}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  externalTrafficPolicy: Local
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, nodePort: 30080, protocol: TCP}
  - {name: https, port: 443, targetPort: 8443}
  sessionAffinity: None
  someFutureField: ok
""",
    ("v1", "Pod"): """
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: web
    ports: [{containerPort: 80}]
""",
    ("apps/v1", "Deployment"): "metadata: {name: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n"
    "  template:" + POD_TEMPLATE,
    ("apps/v1", "StatefulSet"): "metadata: {name: web}\nspec:\n  serviceName: web\n"
    "  selector: {matchExpressions: [{key: app, operator: In, values: [web]}]}\n  template:" + POD_TEMPLATE,
    ("apps/v1", "DaemonSet"): "metadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
    "  template:" + POD_TEMPLATE,
    ("apps/v1", "ReplicaSet"): "metadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
    "  template:" + POD_TEMPLATE,
    ("v1", "ReplicationController"): "metadata: {name: web}\nspec:\n  selector: {app: web}\n  template:" + POD_TEMPLATE,
    ("batch/v1", "Job"): "metadata: {generateName: web-}\nspec:\n  backoffLimit: 1\n  template:" + POD_TEMPLATE,
    ("batch/v1", "CronJob"): "metadata: {name: web}\nspec:\n  schedule: '*/5 * * * *'\n  jobTemplate:\n"
    "    spec:\n      template:" + POD_TEMPLATE.replace("\n", "\n    "),
    ("v1", "Namespace"): "metadata: {name: prod, labels: {env: prod}}\n",
    ("v1", "Node"): """
metadata: {name: node1, labels: {k8s-role: node}}
spec: {podCIDR: 192.168.1.0/24}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.1}
  conditions: [{type: Ready, status: "True"}]
""",
    ("v1", "ServiceAccount"): "metadata: {name: web, namespace: prod}\nautomountServiceAccountToken: false\n",
    ("networking.k8s.io/v1", "NetworkPolicy"): """
metadata: {name: web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
      namespaceSelector: {matchLabels: {env: prod}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{protocol: TCP, port: 8080, endPort: 8090}, {port: http}]
  egress:
  - to: [{namespaceSelector: {}}]
""",
}


def valid_documents() -> list[tuple[str, str, Any]]:
    out = []
    for kind, body in VALID_CALICO.items():
        for api_version in CALICO:
            out.append((api_version, kind, load(f"apiVersion: {api_version}\n{body}")))
    for (api_version, kind), body in VALID_K8S.items():
        out.append((api_version, kind, load(f"apiVersion: {api_version}\nkind: {kind}\n{body}")))
    return out


VALID = valid_documents()


@pytest.mark.parametrize(("api_version", "kind", "obj"), VALID, ids=[f"{a}/{k}" for a, k, _ in VALID])
def test_valid_document_passes(api_version: str, kind: str, obj: Any) -> None:
    assert has_schema(api_version, kind)
    assert validate(api_version, kind, obj) == []
    assert slow_issues(api_version, kind, obj) == []  # jsonschema agrees with the fast path


def test_every_schema_kind_has_a_valid_example() -> None:
    covered = {(a, k) for a, k, _ in VALID}
    assert set(schema.kinds()) == covered
    assert len(covered) == 2 * len(VALID_CALICO) + len(VALID_K8S)


def test_kinds_without_schema() -> None:
    assert not has_schema("v1", "policy")  # calicoctl v1 (Calico 2.x) resources
    assert not has_schema("projectcalico.org/v3", "Node")
    assert not has_schema("extensions/v1beta1", "NetworkPolicy")
    assert not has_schema("projectcalico.org/v3", "globalnetworkpolicy")  # kinds are case-sensitive
    assert not has_schema(None, "Service")  # type: ignore[arg-type]
    assert validate("v1", "policy", {"whatever": 1}) == []
    assert validate("v1", ["Service"], {}) == []  # type: ignore[arg-type]


def test_fast_path_skips_jsonschema_for_valid_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom:
        def iter_errors(self, instance: object) -> None:
            raise AssertionError("jsonschema should not run for a valid document")

    catalog = schema._catalog()
    for api_version, kind, obj in VALID:
        compiled = catalog.compiled(catalog.kinds[(api_version, kind)])
        monkeypatch.setattr(compiled, "validator", Boom())
        assert validate(api_version, kind, obj) == []


def test_inlined_schemas_match_the_ref_form() -> None:
    """validate() compiles schemas with every $ref inlined; the original $ref form must agree."""
    registry = _registry()
    docs = {p.relative_to(SCHEMA_DIR).as_posix(): json.loads(p.read_text(encoding="utf-8")) for p in SCHEMA_FILES}
    catalog = schema._catalog()
    samples = [*VALID, *[(a, k, load(t)) for a, k, t, _ in _invalid_with_kinds()]]
    for api_version, kind, obj in samples:
        name = catalog.kinds[(api_version, kind)]
        original = schema._validator_class()(docs[name], registry=registry)
        compiled = catalog.compiled(name)
        assert original.is_valid(obj) == compiled.validator.is_valid(obj), (kind, obj)
        paths_original = sorted(tuple(e.absolute_path) for e in original.iter_errors(obj))
        paths_inlined = sorted(tuple(e.absolute_path) for e in compiled.validator.iter_errors(obj))
        assert paths_original == paths_inlined


# --------------------------------------------------------------------------------------------
# Invalid documents: expected (path, message fragment, on_key) — exactly these issues, no others
# --------------------------------------------------------------------------------------------

GUIDE_THIRD_EXAMPLE = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-traffic-hostendpoints
spec:
  selector: k8s-role == 'node'
  types:
  - Ingress
  # Allow traffic to the node (not nodePorts, TCP)
  - action: Allow
    protocol: TCP
    destination:
      selector: k8s-role == 'node'
      notPorts: ["30000:32767"] # nodePort range
  - action: Allow
    protocol: UDP
    destination:
      selector: k8s-role == 'node'
      notPorts: ["30000:32767"] # nodePort range
"""

P = "apiVersion: projectcalico.org/v3\n"

INVALID: list[tuple[str, list[tuple[tuple[str | int, ...], str, bool]]]] = [
    (  # misspelt field, with suggestion
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  applyOnFoward: true\n  preDNAT: true\n",
        [(("spec", "applyOnFoward"), "unknown field `applyOnFoward` in spec (did you mean `applyOnForward`?)", True)],
    ),
    (  # GNP-only fields on a namespaced NetworkPolicy
        P + "kind: NetworkPolicy\nmetadata: {name: a}\nspec:\n  preDNAT: true\n  applyOnForward: true\n"
        "  doNotTrack: false\n  namespaceSelector: all()\n",
        [
            (("spec", "applyOnForward"), "exists only on GlobalNetworkPolicy", True),
            (("spec", "doNotTrack"), "exists only on GlobalNetworkPolicy", True),
            (("spec", "namespaceSelector"), "no top-level `namespaceSelector`", True),
            (("spec", "preDNAT"), "unknown field `preDNAT` in spec: `preDNAT` exists only on Global", True),
        ],
    ),
    (  # misspelt GNP-only field on a NetworkPolicy: suggestion plus explanation
        P + "kind: NetworkPolicy\nmetadata: {name: a}\nspec:\n  applyOnFoward: true\n",
        [(("spec", "applyOnFoward"), "did you mean `applyOnForward`? `applyOnForward` exists only on Global", True)],
    ),
    (  # wrong types: string where a list is expected, mapping where a string is expected
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: Ingress\n"
        "  selector: {matchLabels: {app: web}}\n  ingress:\n    action: Allow\n",
        [
            (("spec", "ingress"), "`spec.ingress` must be a list, not a mapping", False),
            (("spec", "selector"), "`spec.selector` must be a string, not a mapping", False),
            (("spec", "types"), "`spec.types` must be a list, not a string (`Ingress`)", False),
        ],
    ),
    (  # enum values, case-sensitive; duplicates; too many
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: [ingress, Egress]\n",
        [(("spec", "types", 0), "must be `Ingress` or `Egress`, not `ingress` (values are case-sensitive", False)],
    ),
    (
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: [Ingress, Ingress]\n",
        [(("spec", "types"), "lists `Ingress` more than once", False)],
    ),
    (
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: []\n",
        [(("spec", "types"), "must not be an empty list", False)],
    ),
    (
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: [Ingress, Egress, Ingress]\n",
        [(("spec", "types"), "lists `Ingress` more than once", False)],
    ),
    (  # rule structure: missing/empty action, misplaced fields, Kubernetes syntax, wrong nesting
        P + "kind: NetworkPolicy\nmetadata: {name: a, namespace: b}\nspec:\n  ingress:\n"
        "  - protocol: TCP\n  - action:\n  - action: Allow\n    ports: [80]\n"
        "    from: [{podSelector: {}}]\n    source: {podSelector: {}, nets: 10.0.0.0/8, protocol: TCP}\n"
        "    destination: {ports: 80}\n    ipVersion: 5\n",
        [
            (("spec", "ingress", 0), "missing required field `action` in spec.ingress[0]", False),
            (("spec", "ingress", 1), "`action` is empty in spec.ingress[1]", False),
            (("spec", "ingress", 2, "destination", "ports"), "must be a list, not an integer (`80`)", False),
            (("spec", "ingress", 2, "from"), "Calico rules use `source`", True),
            (("spec", "ingress", 2, "ipVersion"), "must be `4` or `6`, not `5`", False),
            (("spec", "ingress", 2, "ports"), "`ports` belongs inside `source` or `destination`", True),
            (("spec", "ingress", 2, "source", "nets"), "must be a list, not a string (`10.0.0.0/8`)", False),
            (("spec", "ingress", 2, "source", "podSelector"), "Calico uses `selector`", True),
            (("spec", "ingress", 2, "source", "protocol"), "belongs on the rule itself", True),
        ],
    ),
    (  # labels must be strings; metadata typo
        P + "kind: HostEndpoint\nmetadata:\n  name: h\n  lables: {a: b}\n  labels: {k8s-master: true, v: 1.5}\n"
        "spec: {node: n1, interfaceName: eth0}\n",
        [
            (("metadata", "labels", "k8s-master"), "must be a string, not a boolean (`true`): YAML reads unquoted true/false, yes/no, on/off and y/n as booleans => Quote the value.", False),
            (("metadata", "labels", "v"), "must be a string, not a number (`1.5`)", False),
            (("metadata", "lables"), "unknown field `lables` in metadata (did you mean `labels`?)", True),
        ],
    ),
    (  # required fields and missing name (a missing `node` is CA007's, as Calico's validator checks it)
        P + "kind: HostEndpoint\nmetadata: {namespace: x}\nspec: {interface: eth0, expectedIPs: 10.0.0.1}\n",
        [
            (("metadata",), "missing required field `name` in metadata", False),
            (("spec", "expectedIPs"), "must be a list, not a string", False),
            (("spec", "interface"), "the field is `interfaceName`", True),
        ],
    ),
    (
        P + "kind: IPPool\nmetadata: {name: p}\nspec:\n  ipipMode: always\n  vxlanMode: Sometimes\n"
        "  ipip: {enabled: true}\n  nat-outgoing: true\n  allowedUses: [Workloads]\n",
        [
            (("spec",), "missing required field `cidr` in spec", False),
            (("spec", "allowedUses", 0), "must be one of `Workload`, `Tunnel`, `LoadBalancer`, not `Workloads`", False),
            (("spec", "ipip"), "replaced by `ipipMode", True),
            (("spec", "ipipMode"), "not `always` (values are case-sensitive) => Write `Always`.", False),
            (("spec", "nat-outgoing"), "the field is `natOutgoing`", True),
            (("spec", "vxlanMode"), "must be one of `Never`, `Always`, `CrossSubnet`, not `Sometimes`", False),
        ],
    ),
    (
        P + "kind: IPPool\nmetadata: {name: p}\n",
        [((), "missing required field `spec` at the top level", False)],
    ),
    (
        P + "kind: StagedGlobalNetworkPolicy\nmetadata: {name: a}\nspec: {stagedAction: Remove}\n",
        [(("spec", "stagedAction"), "must be one of `Set`, `Delete`, `Learn`, `Ignore`, not `Remove`", False)],
    ),
    (
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec: {stagedAction: Set}\n",
        [(("spec", "stagedAction"), "only on the staged policy kinds", True)],
    ),
    (
        P + "kind: Tier\nmetadata: {name: t}\nspec: {defaultAction: Allow, order: high}\n",
        [
            (("spec", "defaultAction"), "must be `Deny` or `Pass`, not `Allow`", False),
            (("spec", "order"), "must be a number, not a string (`high`)", False),
        ],
    ),
    (
        P + "kind: BGPConfiguration\nmetadata: {name: default}\nspec:\n  serviceLoadBalancerAggregation: enabled\n"
        "  serviceClusterIPs: 10.96.0.0/12\n  serviceExternalIPs: [10.0.0.0/8]\n  listenPort: 0\n"
        "  logSeverityScreen: Verbose\n",
        [
            (("spec", "listenPort"), "must be at least 1, not `0`", False),
            (("spec", "logSeverityScreen"), "must be one of `Trace`, `Debug`, `Info`, `Warning`, `Error`", False),
            (("spec", "serviceClusterIPs"), "must be a list, not a string", False),
            (("spec", "serviceExternalIPs", 0), "must be a mapping, not a string (`10.0.0.0/8`)", False),
            (("spec", "serviceLoadBalancerAggregation"), "not `enabled` (values are case-sensitive) => Write `Enabled`.", False),
        ],
    ),
    (
        P + "kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIp: 10.0.0.1, asNumber: [1], sourceAddress: NodeIP}\n",
        [
            (("spec", "asNumber"), "must be an integer or a string, not a list", False),
            (("spec", "peerIp"), "the field is `peerIP`", True),
            (("spec", "sourceAddress"), "must be `UseNodeIP` or `None`, not `NodeIP`", False),
        ],
    ),
    (
        P + "kind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  failsafeInboundHostPort: []\n"
        '  failsafeOutboundHostPorts: [{protocol: TCP}, {port: "22"}]\n  reportingInterval: 30\n'
        "  defaultEndpointToHostAction: accept\n  kubeNodePortRanges: [1, 2, 3, 4, 5, 6, 7, 8]\n",
        [
            (("spec", "defaultEndpointToHostAction"), "(values are case-sensitive) => Write `Accept`.", False),
            (("spec", "failsafeInboundHostPort"), "did you mean `failsafeInboundHostPorts`?", True),
            (("spec", "failsafeOutboundHostPorts", 0), "missing required field `port`", False),
            (("spec", "failsafeOutboundHostPorts", 1, "port"), "must be an integer, not a string (`22`)", False),
            (("spec", "kubeNodePortRanges"), "can have at most 7 items, it has 8", False),
            (("spec", "reportingInterval"), "must be a duration such as `30s`", False),
        ],
    ),
    (
        P + "kind: KubeControllersConfiguration\nmetadata: {name: default}\nspec:\n  etcdv3CompactionPeriod: 10m\n",
        [
            (("spec",), "missing required field `controllers` in spec", False),
            (("spec", "etcdv3CompactionPeriod"), "the field is `etcdV3CompactionPeriod` (kubectl", True),
        ],
    ),
    (  # a misspelt top-level key: reported once (no extra "missing metadata")
        P + "kind: NetworkPolicy\nMetadata: {name: a}\nSpec: {selector: all()}\n",
        [
            (("Metadata",), "the field is `metadata`", True),
            (("Spec",), "the field is `spec`", True),
        ],
    ),
    (  # fields at the wrong level
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nselector: all()\nspec:\n  name: x\n",
        [
            (("selector",), "`selector` belongs under `spec`", True),
            (("spec", "name"), "`name` belongs under `metadata`", True),
        ],
    ),
    (  # Kubernetes Service
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: Nodeport\n"
        "  ports:\n  - {port: '80', targetPort: [1], nodeport: 30000, protocol: tcp}\n  - {name: x}\n",
        [
            (("spec", "ports", 0, "nodeport"), "the field is `nodePort` (field names are case-sensitive)", True),
            (("spec", "ports", 0, "port"), "must be an integer, not a string (`80`)", False),
            (("spec", "ports", 0, "protocol"), "must be one of `TCP`, `UDP`, `SCTP`, not `tcp`", False),
            (("spec", "ports", 0, "targetPort"), "must be an integer or a string, not a list", False),
            (("spec", "ports", 1), "missing required field `port`", False),
            (("spec", "type"), "not `Nodeport` (values are case-sensitive) => Write `NodePort`.", False),
        ],
    ),
    (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata:\n"
        "      labels: {app: web, version: 1.0}\n    spec:\n      containers:\n      - name: web\n"
        "        ports: [{containerPort: http, name: http}, {port: 80}]\n",
        [
            (("spec",), "missing required field `selector` in spec", False),
            (("spec", "template", "metadata", "labels", "version"), "must be a string, not a number (`1.0`)", False),
            (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "must be an integer", False),
            (("spec", "template", "spec", "containers", 0, "ports", 1), "missing required field `containerPo", False),
            (("spec", "template", "spec", "containers", 0, "ports", 1, "port"), "unknown field `port`", True),
        ],
    ),
    (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n"
        "    spec:\n      template:\n        spec:\n          containers: {name: x}\n",
        [
            (("metadata",), "missing required field `name` in metadata (or `generateName`)", False),
            (("spec", "jobTemplate", "spec", "template", "spec", "containers"), "must be a list, not a mapping", False),
        ],
    ),
    (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np1}\nspec:\n  selector: all()\n"
        "  policyTypes: [ingress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {a: b}}, ipblock: {}}]\n"
        "    to: []\n",
        [
            (("spec", "ingress", 0, "from", 0, "ipblock"), "the field is `ipBlock`", True),
            (("spec", "ingress", 0, "to"), "ingress rules use `from`", True),
            (("spec", "policyTypes", 0), "must be `Ingress` or `Egress`, not `ingress`", False),
            (("spec", "selector"), "`selector` is Calico syntax", True),
        ],
    ),
    (
        "apiVersion: v1\nkind: Node\nmetadata: {name: node1, labels: {k8s-role: node, ready: yes}}\n"
        "status: {addresses: [{type: InternalIP, address: 10.0.0.1, ip: x}]}\n",
        [
            (("metadata", "labels", "ready"), "must be a string, not a boolean (`true`)", False),
            (("status", "addresses", 0, "ip"), "unknown field `ip`", True),
        ],
    ),
]


def _invalid_with_kinds() -> list[tuple[str, str, str, list[tuple[tuple[str | int, ...], str, bool]]]]:
    out = []
    for text, expected in INVALID:
        obj = load(text)
        out.append((obj["apiVersion"], obj["kind"], text, expected))
    return out


@pytest.mark.parametrize(("text", "expected"), INVALID, ids=[f"case{i}" for i in range(len(INVALID))])
def test_invalid_document_gives_expected_issues(
    text: str, expected: list[tuple[tuple[str | int, ...], str, bool]]
) -> None:
    issues = check(text)
    assert [i.path for i in issues] == [path for path, _, _ in expected], [i.message for i in issues]
    for issue, (path, fragment, on_key) in zip(issues, expected, strict=True):
        said = f"{issue.message} => {issue.fix}" if issue.fix else issue.message  # the fix follows "=>"
        assert fragment in said, (path, said)
        assert issue.on_key is on_key, (path, issue.message)
    obj = load(text)
    assert slow_issues(obj["apiVersion"], obj["kind"], obj) == issues  # no fast-path shortcut hides anything


@pytest.mark.parametrize(("text", "expected"), [c for c in INVALID if c[0].startswith(P)])
def test_both_calico_api_versions_behave_the_same(
    text: str, expected: list[tuple[tuple[str | int, ...], str, bool]]
) -> None:
    v3 = check(text)
    v1 = check(text.replace(P, "apiVersion: crd.projectcalico.org/v1\n", 1))
    assert v1 == v3


def test_guide_third_example_is_one_clear_issue() -> None:
    issues = check(GUIDE_THIRD_EXAMPLE)
    assert len(issues) == 1, issues  # once for the list: not once per item, no extra maxItems noise
    (issue,) = issues
    assert issue.path == ("spec", "types", 1)
    assert not issue.on_key
    assert issue.message.startswith("`spec.types[1]` must be `Ingress` or `Egress`, not a mapping")
    assert "items 1 and 2 of `types` are rules" in issue.message
    assert "ended up inside `types`" in issue.message
    assert "`ingress:` (or `egress:`) key is probably missing" in issue.message


def test_misplaced_rule_and_other_type_errors_are_both_reported() -> None:
    text = (
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types:\n  - ingress\n  - action: Allow\n"
        "    protocol: TCP\n"
    )
    issues = check(text)
    assert [i.path for i in issues] == [("spec", "types", 0), ("spec", "types", 1)]
    assert "not `ingress`" in issues[0].message
    assert "item 1 of `types` is a rule" in issues[1].message


def test_mapping_in_types_that_is_not_a_rule_gets_the_plain_message() -> None:
    text = P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: [{foo: bar}]\n"
    (issue,) = check(text)
    assert issue.message == "`spec.types[0]` must be `Ingress` or `Egress`, not a mapping"


# --------------------------------------------------------------------------------------------
# Enterprise fields, nulls, odd inputs, message hygiene
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", CALICO)
def test_enterprise_fields_are_accepted(api_version: str) -> None:
    texts = [
        """
kind: GlobalNetworkPolicy
metadata: {name: allow-egress-domains}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Allow
    destination:
      domains: ["*.example.com", api.stripe.com]
  - action: Allow
    http:
      headers: [{header: x-env, operator: In, values: [prod]}]
""",
        "kind: GlobalNetworkSet\nmetadata: {name: g}\nspec: {allowedEgressDomains: [example.com], nets: []}\n",
        "kind: NetworkSet\nmetadata: {name: ns1, namespace: x}\nspec: {allowedEgressDomains: [example.com]}\n",
        "kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, awsSubnetID: subnet-1}\n",
        "kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, extensions: {a: b}, "
        "failureDetectionMode: BFDIfDirectlyConnected, restartMode: GracefulRestart}\n",
        "kind: BGPConfiguration\nmetadata: {name: default}\nspec: {extensions: {a: b}}\n",
        """
kind: FelixConfiguration
metadata: {name: default}
spec:
  flowLogsFlushInterval: 10s
  flowLogsFileAggregationKindForAllowed: 1
  dnsLogsFlushInterval: 10s
  flowLogsPolicyScope: AllPolicies
  egressIPSupport: EnabledPerNamespace
  l7LogsFileEnabled: true
  tproxyMode: Enabled
""",
        "kind: KubeControllersConfiguration\nmetadata: {name: default}\n"
        "spec: {controllers: {federatedServices: {reconcilerPeriod: 5m}, policyMigration: {enabled: Enabled}}}\n",
    ]
    for text in texts:
        obj = load(f"apiVersion: {api_version}\n{text}")
        assert validate(api_version, obj["kind"], obj) == [], text


def test_enterprise_fields_are_documented_as_enterprise_only() -> None:
    docs = schema.schema_documents()
    domains = docs["calico/_defs.json"]["$defs"]["EntityRule"]["properties"]["domains"]
    assert "Enterprise" in domains["description"]
    felix = docs["calico/felixconfiguration.json"]["properties"]["spec"]["properties"]
    assert "Enterprise" in felix["dnsLogsFlushInterval"]["description"]
    assert (
        "Enterprise"
        in docs["calico/globalnetworkset.json"]["properties"]["spec"]["properties"]["allowedEgressDomains"][
            "description"
        ]
    )


def test_null_values_count_as_unset() -> None:
    text = (
        P + "kind: GlobalNetworkPolicy\nmetadata:\n  name: a\n  labels:\n  creationTimestamp: null\n"
        "spec:\n  order:\n  types:\n  ingress:\n  - action: Allow\n    source:\n"
    )
    assert check(text) == []
    # ... but an unknown key is unknown whatever its value
    issues = check(P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  applyOnFoward:\n")
    assert [i.path for i in issues] == [("spec", "applyOnFoward")]
    # ... and a null list item is not "unset"
    issues = check(P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types: [null]\n")
    assert [(i.path, i.message) for i in issues] == [
        (("spec", "types", 0), "`spec.types[0]` must be `Ingress` or `Egress`, not empty (null)")
    ]


def test_not_a_mapping() -> None:
    (issue,) = validate("projectcalico.org/v3", "GlobalNetworkPolicy", ["a"])
    assert issue.path == ()
    assert issue.message == "the document must be a mapping, not a list"


def test_integral_float_is_not_an_integer() -> None:
    # Go's JSON decoder rejects 80.0 for an int field.
    (issue,) = check("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80.0}]}\n")
    assert issue.message == "`spec.ports[0].port` must be an integer, not a number (`80.0`)"


def test_one_issue_per_path_sorted_and_deterministic() -> None:
    for _api, _kind, text, _expected in _invalid_with_kinds():
        first = check(text)
        assert first == check(text)
        paths = [i.path for i in first]
        assert len(paths) == len(set(paths))
        assert paths == sorted(paths, key=lambda p: tuple((isinstance(x, str), x) for x in p))


RAW_JSONSCHEMA = re.compile(
    r"is not of type|is not one of|is not valid under any|Additional properties|is a required property|"
    r"does not match '|is too long|is too short|has non-unique|Failed validating"
)


def test_messages_are_plain_language() -> None:
    for _api, _kind, text, _expected in _invalid_with_kinds():
        for issue in check(text):
            assert not RAW_JSONSCHEMA.search(issue.message), issue.message
            assert "{" not in issue.message.replace("`{", "").replace("{enabled", ""), issue.message


# --------------------------------------------------------------------------------------------
# The fast checker agrees with jsonschema on arbitrary damage to valid documents
# --------------------------------------------------------------------------------------------

_JUNK_KEYS = ["action", "selector", "ports", "nets", "types", "name", "labels", "bogus", "Spec", "port", "cidr"]
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 70000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "Ingress", "Egress", "Allow", "TCP", "tcp", "Always", "10s", "80", "x", "Enabled"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_JUNK_KEYS), inner, max_size=3),
    max_leaves=6,
)


def _nodes(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_nodes(v, (*path, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_nodes(v, (*path, i)))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_checker_agrees_with_jsonschema(data: st.DataObject) -> None:
    api_version, kind, original = data.draw(st.sampled_from(VALID))
    obj = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_nodes(obj)))
        if not path:
            continue
        parent = obj
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "add", "delete"]))
        if action == "replace":
            parent[path[-1]] = data.draw(_values)
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(_JUNK_KEYS))] = data.draw(_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
    catalog = schema._catalog()
    compiled = catalog.compiled(catalog.kinds[(api_version, kind)])
    slow = slow_issues(api_version, kind, obj)
    assert compiled.fast(obj) == (slow == []), (obj, slow)
    assert validate(api_version, kind, obj) == slow
    for issue in slow:
        assert not RAW_JSONSCHEMA.search(issue.message), issue.message


# --------------------------------------------------------------------------------------------
# The real-world corpus
# --------------------------------------------------------------------------------------------


def _corpus_dir() -> Path | None:
    for candidate in (
        Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real",
        Path("/work/shared/corpus/real"),
    ):
        if candidate.is_dir():
            return candidate
    return None


# Every issue the schemas find in the corpus, checked by hand (see the module docstring of
# auditor/schema.py for what is in scope). (file, path) -> message fragment.
EXPECTED_CORPUS = {
    # `Metadata:`/`Spec:` capitalised: kubectl rejects them; calicoctl's case-insensitive decoder accepts them.
    ("gary-RR__myYouTube-calico-policies/cal-allow-ingress-from-svc.yaml", ("Metadata",)): "the field is `metadata`",
    ("gary-RR__myYouTube-calico-policies/cal-allow-ingress-from-svc.yaml", ("Spec",)): "the field is `spec`",
    ("gary-RR__myYouTube-calico-policies/cal-deny-ingress-from-ui.yaml", ("Metadata",)): "the field is `metadata`",
    ("gary-RR__myYouTube-calico-policies/cal-deny-ingress-from-ui.yaml", ("Spec",)): "the field is `spec`",
    # Boolean label values (`k8s-master: true`): Kubernetes rejects non-string label values.
    (
        "tigera-cs__Calico-Foundation/4.3-policy-advanced-lab__lab_manifests__4.3-host-endpoint.yaml",
        ("metadata", "labels", "k8s-master"),
    ): "must be a string, not a boolean",
    (
        "tigera-cs__Calico-Foundation/4.3-policy-advanced-lab__lab_manifests__4.3-host-endpoint.yaml",
        ("metadata", "labels", "k8s-worker"),
    ): "must be a string, not a boolean",
    # Docs whose `# comments` lost their `#`: `type: 8  Ping request` is a string.
    (
        "tigera__docs/calico__network-policy__policy-rules__icmp-ping.mdx__L109.yaml",
        ("spec", "ingress", 0, "icmp", "code"),
    ): "must be an integer, not a string (`1  Host unreachable`)",
    (
        "tigera__docs/calico__network-policy__policy-rules__icmp-ping.mdx__L109.yaml",
        ("spec", "ingress", 0, "icmp", "type"),
    ): "must be an integer, not a string (`3  Destination unreachable`)",
    (
        "tigera__docs/calico__network-policy__policy-rules__icmp-ping.mdx__L81.yaml",
        ("spec", "ingress", 0, "icmp", "type"),
    ): "must be an integer, not a string (`8  Ping request`)",
    (
        "tigera__docs/calico__network-policy__policy-rules__icmp-ping.mdx__L81.yaml",
        ("spec", "ingress", 1, "icmp", "type"),
    ): "must be an integer, not a string (`128  Ping request`)",
    # The guide's third example: rules inside `types`.
    (
        "tigera__docs/calico__network-policy__services__services-cluster-ips.mdx__L131.yaml",
        ("spec", "types", 1),
    ): "ended up inside `types`",
    # A placeholder `(...)` pod spec and no `selector` (required in apps/v1).
    ("tigera__docs/calico__networking__configuring__qos-controls.mdx__L50.yaml", ("spec",)): (
        "missing required field `selector`"
    ),
    ("tigera__docs/calico__networking__configuring__qos-controls.mdx__L50.yaml", ("spec", "template", "spec")): (
        "must be a mapping, not a string (`(...)`)"
    ),
    # The resource overview's HostEndpoint example uses `interface:` (the field is `interfaceName`).
    ("tigera__docs/calico__reference__resources__overview.mdx__L72.yaml", ("spec", "interface")): (
        "the field is `interfaceName`"
    ),
}


def _resources(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for item in data for r in _resources(item)]
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        return _resources(data["items"])
    return [data] if isinstance(data, dict) else []


def test_real_corpus() -> None:
    corpus = _corpus_dir()
    if corpus is None:
        pytest.skip("shared/corpus/real not available")
    found: dict[tuple[str, tuple[Any, ...]], str] = {}
    validated = 0
    for path in sorted(corpus.glob("*/*.yaml")):
        rel = path.relative_to(corpus).as_posix()
        try:
            documents = load_all(path.read_text(encoding="utf-8", errors="replace"), str(path))
        except Exception:  # unparseable files are the loader's business (rule CA001)
            continue
        for resource in (r for d in documents for r in _resources(d)):
            api_version, kind = resource.get("apiVersion"), resource.get("kind")
            if not has_schema(api_version, kind):
                continue
            validated += 1
            for issue in validate(api_version, kind, resource):
                found[(rel, issue.path)] = issue.message
    assert validated > 300  # the corpus has ~385 resources with a schema
    assert set(found) == set(EXPECTED_CORPUS), sorted(set(found) ^ set(EXPECTED_CORPUS))
    for key, fragment in EXPECTED_CORPUS.items():
        assert fragment in found[key], (key, found[key])


def test_misplaced_rules_do_not_hide_a_real_duplicate() -> None:
    text = (
        P + "kind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec:\n  types:\n  - Ingress\n  - Ingress\n"
        "  - action: Allow\n"
    )
    issues = check(text)
    assert [i.path for i in issues] == [("spec", "types"), ("spec", "types", 2)]
    assert "lists `Ingress` more than once" in issues[0].message
    assert "item 2 of `types` is a rule" in issues[1].message
