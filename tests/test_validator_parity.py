"""Parity with Calico's own validator, kind by kind (CA007 sub-checks).

Each entry is a manifest of ours modelled on a case of Calico v3.32's validator tests and rules
(``libcalico-go/lib/validator/v3/validator.go`` and ``validator_test.go``, and the CEL rules of the
v3.32.1 CRDs): valid manifests give no CA007 and no CA002 finding; invalid ones give exactly the
expected CA007 sub-check (and nothing from other CA007 sub-checks).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.engine import sub_id
from auditor.findings import Finding
from tests.conftest import run_files


def _doc(kind: str, name: str, spec: str, meta: str = "", namespace: str = "") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    body = "".join(f"  {line}\n" for line in spec.strip("\n").splitlines())
    return f"apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata:\n  name: {name}\n{ns}{meta}spec:\n{body}"


def felix(spec: str) -> str:
    return _doc("FelixConfiguration", "default", spec)


def bgp(spec: str, name: str = "default") -> str:
    return _doc("BGPConfiguration", name, spec)


def peer(spec: str) -> str:
    return _doc("BGPPeer", "peer-1", spec)


def pool(spec: str) -> str:
    return _doc("IPPool", "pool-1", spec)


def bgp_filter(spec: str) -> str:
    return _doc("BGPFilter", "filter-1", spec)


def hep(spec: str, meta: str = "") -> str:
    return _doc("HostEndpoint", "node1-eth0", spec, meta)


def gnp(spec: str, meta: str = "", name: str = "policy-1") -> str:
    return _doc("GlobalNetworkPolicy", name, "selector: k8s-role == 'node'\n" + spec, meta)


HEP_OK = "node: node1\ninterfaceName: eth0\nexpectedIPs: [10.0.0.11]\n"
SECRET = "secretKeyRef: {name: bgp-secrets, key: mesh}"

# (id, manifest, expected CA007 sub-ID(s), or None for a valid manifest)
CASES: list[tuple[str, str, str | tuple[str, ...] | None]] = [
    # ---- BGPPeer: CEL / validateBGPPeerSpec exclusivity rules ----------------------------
    ("peer-ok-node", peer("node: node1\npeerIP: 192.0.2.1\nasNumber: 64512"), None),
    ("peer-ok-selector", peer("nodeSelector: rack == 'a'\npeerSelector: route-reflector == 'true'"), None),
    ("peer-ok-ipv4-port", peer("peerIP: 9.9.9.9:4444\nasNumber: 64512"), None),
    ("peer-ok-ipv6-port", peer("peerIP: '[aabb::ffff]:4444'\nasNumber: 64512"), None),
    ("peer-ok-ipv6", peer("peerIP: 'aabb::ffff'\nasNumber: 64512"), None),
    ("peer-ok-reachable", peer("peerIP: 192.0.2.1\nasNumber: 64512\nreachableBy: 10.0.0.1"), None),
    ("peer-ok-local-workload", peer("localWorkloadSelector: app == 'bgp'\nasNumber: 64513"), None),
    ("peer-ok-next-hop", peer("peerIP: 192.0.2.1\nasNumber: 64512\nnextHopMode: Keep"), None),
    ("peer-ok-keep-false", peer("peerIP: 192.0.2.1\nasNumber: 64512\nkeepOriginalNextHop: false\nnextHopMode: Self"),
     None),
    ("peer-node-and-selector", peer("node: node1\nnodeSelector: all()\npeerIP: 192.0.2.1\nasNumber: 64512"),
     "CA007/bgppeer-node-selection"),
    ("peer-ip-and-selector", peer("peerIP: 192.0.2.1\npeerSelector: rr == 'true'"), "CA007/bgppeer-peer-selection"),
    ("peer-as-and-selector", peer("peerSelector: rr == 'true'\nasNumber: 64512"), "CA007/bgppeer-peer-selection"),
    ("peer-lws-no-as", peer("localWorkloadSelector: app == 'bgp'"), "CA007/bgppeer-local-workload"),
    ("peer-lws-and-ip", peer("localWorkloadSelector: app == 'bgp'\nasNumber: 64513\npeerIP: 192.0.2.1"),
     "CA007/bgppeer-local-workload"),
    ("peer-lws-and-selector", peer("localWorkloadSelector: app == 'bgp'\nasNumber: 64513\npeerSelector: all()"),
     ("CA007/bgppeer-local-workload", "CA007/bgppeer-peer-selection")),
    ("peer-keep-and-mode", peer("peerIP: 192.0.2.1\nasNumber: 64512\nkeepOriginalNextHop: true\nnextHopMode: Self"),
     "CA007/bgppeer-next-hop"),
    ("peer-reachable-no-ip", peer("peerSelector: all()\nreachableBy: 10.0.0.1"), "CA007/bgppeer-reachable-by"),
    ("peer-reachable-family", peer("peerIP: 'aabb::1'\nasNumber: 64512\nreachableBy: 10.0.0.1"),
     "CA007/bgppeer-reachable-by"),
    ("peer-reachable-bad", peer("peerIP: 192.0.2.1\nasNumber: 64512\nreachableBy: 10.0.0"),
     "CA007/bgppeer-reachable-by"),
    ("peer-bad-ip", peer("peerIP: 999.999.999.999\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-bad-ipv6", peer("peerIP: 'xyz:::'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-port-zero", peer("peerIP: 9.9.9.9:0\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-port-too-big", peer("peerIP: '[aabb::ffff]:70000'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-ok-port-500", peer("peerIP: '[9000::]:500'\nasNumber: 64512"), None),
    ("peer-bracketed-v4-port", peer("peerIP: '[192.168.0.0]:98956'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-port-65536", peer("peerIP: '192.168.0.0:65536'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-ip-330", peer("peerIP: '192.168.0.330:170'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-empty-port", peer("peerIP: '192.168.0.0:'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-empty-ip", peer("peerIP: ':8552'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-empty-brackets", peer("peerIP: '[]:8552'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-bad-v6-port", peer("peerIP: '[9000::FFFFF]:170'\nasNumber: 64512"), "CA007/bgppeer-peer-ip"),
    ("peer-ok-modes", peer("peerIP: 192.0.2.1\nasNumber: 64512\nfailureDetectionMode: BFDIfDirectlyConnected\n"
                           "restartMode: LongLivedGracefulRestart\nbirdGatewayMode: Recursive"), None),
    ("peer-failure-mode", peer("peerIP: 192.0.2.1\nasNumber: 64512\nfailureDetectionMode: rubbish"),
     "CA007/bgppeer-modes"),
    ("peer-restart-mode", peer("peerIP: 192.0.2.1\nasNumber: 64512\nrestartMode: gracefulRestart"),
     "CA007/bgppeer-modes"),
    # ---- BGPConfiguration ------------------------------------------------------------------
    ("bgp-ok", bgp("logSeverityScreen: Info\nnodeToNodeMeshEnabled: true\nasNumber: 64512"), None),
    ("bgp-ok-mesh-password", bgp(f"nodeToNodeMeshEnabled: true\nnodeMeshPassword: {{{SECRET}}}"), None),
    ("bgp-ok-restart", bgp("nodeToNodeMeshEnabled: true\nnodeMeshMaxRestartTime: 200s"), None),
    ("bgp-ok-interfaces", bgp("ignoredInterfaces: ['valid_iface*', interface_name]"), None),
    ("bgp-ok-node-name", bgp("listenPort: 1790", name="node.worker-1"), None),
    ("bgp-ok-communities", bgp(
        "communities:\n- {name: bgp-large-community, value: '63400:300:100'}\n"
        "prefixAdvertisements:\n- cidr: 2002::/16\n  communities: [bgp-large-community, '63400:120']"), None),
    ("bgp-ok-local-peering", bgp("localWorkloadPeeringIPV4: 169.254.0.179\nlocalWorkloadPeeringIPV6: 'fe80::179'"),
     None),
    ("bgp-log-lower", bgp("logSeverityScreen: info"), "CA007/bgpconfiguration-log-severity"),
    ("bgp-log-upper", bgp("logSeverityScreen: INFO"), "CA007/bgpconfiguration-log-severity"),
    ("bgp-mesh-password-off", bgp(f"nodeToNodeMeshEnabled: false\nnodeMeshPassword: {{{SECRET}}}"),
     "CA007/bgpconfiguration-node-mesh"),
    ("bgp-restart-off", bgp("nodeToNodeMeshEnabled: false\nnodeMeshMaxRestartTime: 200s"),
     "CA007/bgpconfiguration-node-mesh"),
    ("bgp-ignore-all", bgp("ignoredInterfaces: ['*']"), "CA007/bgpconfiguration-ignored-interfaces"),
    ("bgp-ignore-long", bgp("ignoredInterfaces: [interface-name-too-long]"), "CA007/bgpconfiguration-ignored-interfaces"),
    ("bgp-community-16bit", bgp(
        "communities:\n- {name: c1, value: '65536:1'}\nprefixAdvertisements:\n- cidr: 10.0.0.0/8\n  communities: [c1]"),
     "CA007/bgpconfiguration-communities"),
    ("bgp-community-32bit", bgp(
        "communities:\n- {name: c1, value: '4294967296:1:1'}\nprefixAdvertisements:\n- cidr: 10.0.0.0/8\n"
        "  communities: [c1]"), "CA007/bgpconfiguration-communities"),
    ("bgp-community-unused", bgp("communities:\n- {name: c1, value: '100:200'}"), "CA007/bgpconfiguration-communities"),
    ("bgp-community-bad-name", bgp(
        "communities:\n- {name: Bad_Name, value: '100:200'}\nprefixAdvertisements:\n- cidr: 10.0.0.0/8\n"
        "  communities: ['100:200']"), "CA007/bgpconfiguration-communities"),
    ("bgp-prefix-undefined", bgp("prefixAdvertisements:\n- cidr: 10.0.0.0/8\n  communities: [not-defined]"),
     "CA007/bgpconfiguration-prefix-advertisements"),
    ("bgp-prefix-16bit", bgp("prefixAdvertisements:\n- cidr: 10.0.0.0/8\n  communities: ['100:70000']"),
     "CA007/bgpconfiguration-prefix-advertisements"),
    ("bgp-prefix-cidr", bgp("prefixAdvertisements:\n- cidr: 10.0.0.1/8\n  communities: ['100:200']"),
     "CA007/bgpconfiguration-prefix-advertisements"),
    ("bgp-community-no-name", bgp("communities:\n- {value: '536:785'}\nprefixAdvertisements:\n- cidr: 10.0.0.0/8\n"
                                  "  communities: ['100:100']"), "CA007/bgpconfiguration-communities"),
    ("bgp-community-no-value", bgp("communities:\n- {name: c1}\nprefixAdvertisements:\n- cidr: 10.0.0.0/8\n"
                                   "  communities: ['100:100']"), "CA007/bgpconfiguration-communities"),
    ("bgp-prefix-no-cidr", bgp("prefixAdvertisements:\n- communities: ['100:5964']"),
     "CA007/bgpconfiguration-prefix-advertisements"),
    ("bgp-prefix-no-communities", bgp("prefixAdvertisements:\n- cidr: 192.168.10.0/28"),
     "CA007/bgpconfiguration-prefix-advertisements"),
    ("bgp-ok-prefix-empty-communities", bgp("prefixAdvertisements:\n- {cidr: 192.168.10.0/28, communities: []}"), None),
    ("bgp-local-peering-v4", bgp("localWorkloadPeeringIPV4: 'fe80::179'"), "CA007/bgpconfiguration-local-workload-peering"),
    ("bgp-local-peering-v6", bgp("localWorkloadPeeringIPV6: 169.254.0.179"),
     "CA007/bgpconfiguration-local-workload-peering"),
    # ---- FelixConfiguration (validateFelixConfigSpec and field tags) ------------------------
    ("felix-ok", felix(
        "routeTableRanges: [{min: 1, max: 250}, {min: 1000, max: 2000}]\nwireguardListeningPort: 51820\n"
        "wireguardRoutingRulePriority: 99\nwireguardInterfaceName: wireguard.cali\nnatOutgoingAddress: 192.0.2.10\n"
        "natPortRange: '32768:65000'\ndeviceRouteSourceAddress: 10.0.0.1\ndeviceRouteSourceAddressIPv6: 'fd00::1'\n"
        "externalNodesList: [10.1.0.0/16, 10.2.0.1]\niptablesNATOutgoingInterfaceFilter: eth+\n"
        "logDebugFilenameRegex: '^(route|ipsets).*'\nbpfDataIfacePattern: '^(en|eth).*'\nmtuIfacePattern: '^eth'\n"
        "bpfLogLevel: Debug\nbpfExternalServiceMode: DSR\niptablesFilterAllowAction: Return\n"
        "iptablesFilterDenyAction: Reject\nserviceLoopPrevention: Disabled\nlogSeverityScreen: Warning\n"
        "bpfDSROptoutCIDRs: [10.0.0.0/8]\nbpfForceTrackPacketsFromIfaces: [docker+]\nbpfLogFilters: {all: 'tcp'}\n"
        "healthTimeoutOverrides: [{name: InternalDataplaneMainLoop, timeout: 30s}]\nprometheusMetricsHost: '::'\n"
        "openstackRegion: region-one\nfeatureDetectOverride: 'SNATFullyRandom=true,MASQFullyRandom=false'\n"
        "goGCThreshold: -1\ndebugPort: 6060\nkubeNodePortRanges: ['30000:32767']"), None),
    ("felix-route-table-range", felix("routeTableRange: {min: 0, max: 250}"), "CA007/felixconfiguration-route-tables"),
    ("felix-route-table-max", felix("routeTableRange: {min: 1, max: 300}"), "CA007/felixconfiguration-route-tables"),
    ("felix-route-table-both", felix("routeTableRange: {min: 1, max: 250}\nrouteTableRanges: [{min: 1, max: 250}]"),
     "CA007/felixconfiguration-route-tables"),
    ("felix-route-tables-order", felix("routeTableRanges: [{min: 500, max: 100}]"),
     "CA007/felixconfiguration-route-tables"),
    ("felix-route-tables-zero", felix("routeTableRanges: [{min: 0, max: 100}]"), "CA007/felixconfiguration-route-tables"),
    ("felix-route-tables-many", felix("routeTableRanges: [{min: 1, max: 70000}]"),
     "CA007/felixconfiguration-route-tables"),
    ("felix-regex", felix("logDebugFilenameRegex: '[bad'"), "CA007/felixconfiguration-regex"),
    ("felix-regex-lookahead", felix("bpfDataIfacePattern: '^(?!cali).*'"), "CA007/felixconfiguration-regex"),
    ("felix-wg-port", felix("wireguardListeningPort: 99999"), "CA007/felixconfiguration-wireguard"),
    ("felix-wg-port-v6", felix("wireguardListeningPortV6: 0"), "CA007/felixconfiguration-wireguard"),
    ("felix-wg-priority", felix("wireguardRoutingRulePriority: 99999"), "CA007/felixconfiguration-wireguard"),
    ("felix-wg-iface", felix("wireguardInterfaceName: wireguard-interface-too-long"),
     "CA007/felixconfiguration-wireguard"),
    ("felix-nat-address", felix("natOutgoingAddress: 'fd00::1'"), "CA007/felixconfiguration-nat"),
    ("felix-nat-ports", felix("natPortRange: '65000:1000'"), "CA007/felixconfiguration-nat"),
    ("felix-device-route", felix("deviceRouteSourceAddress: not-an-ip"), "CA007/felixconfiguration-nat"),
    ("felix-device-route-v6", felix("deviceRouteSourceAddressIPv6: 10.0.0.1"), "CA007/felixconfiguration-nat"),
    ("felix-external-nodes-v6", felix("externalNodesList: ['fd00::/64']"), "CA007/felixconfiguration-nat"),
    ("felix-external-nodes-bad", felix("externalNodesList: [garbage]"), "CA007/felixconfiguration-nat"),
    ("felix-nat-iface", felix("iptablesNATOutgoingInterfaceFilter: 'eth*'"), "CA007/felixconfiguration-nat"),
    ("felix-bpf-log-level", felix("bpfLogLevel: debug"), "CA007/felixconfiguration-value-case"),
    ("felix-bpf-service-mode", felix("bpfExternalServiceMode: dsr"), "CA007/felixconfiguration-value-case"),
    ("felix-allow-action", felix("iptablesFilterAllowAction: return"), "CA007/felixconfiguration-value-case"),
    ("felix-deny-action", felix("nftablesFilterDenyAction: reject"), "CA007/felixconfiguration-value-case"),
    ("felix-loop-prevention", felix("serviceLoopPrevention: drop"), "CA007/felixconfiguration-value-case"),
    ("felix-log-severity", felix("logSeverityScreen: debug"), "CA007/felixconfiguration-value-case"),
    ("felix-bpf-cidrs", felix("bpfExcludeCIDRsFromNAT: [garbage]"), "CA007/felixconfiguration-bpf"),
    ("felix-bpf-track", felix("bpfForceTrackPacketsFromIfaces: ['docker*']"), "CA007/felixconfiguration-bpf"),
    ("felix-bpf-log-filters", felix("bpfLogFilters: {'bad iface': 'tcp'}"), "CA007/felixconfiguration-bpf"),
    ("felix-health-name", felix("healthTimeoutOverrides: [{name: 'bad/name', timeout: 30s}]"),
     "CA007/felixconfiguration-health-timeouts"),
    ("felix-health-negative", felix("healthTimeoutOverrides: [{name: Calc, timeout: -30s}]"),
     "CA007/felixconfiguration-health-timeouts"),
    ("felix-prometheus-host", felix("prometheusMetricsHost: 'bad host!'"), "CA007/felixconfiguration-prometheus-host"),
    ("felix-openstack-region", felix("openstackRegion: Region_One"), "CA007/felixconfiguration-openstack-region"),
    ("felix-openstack-long", felix("openstackRegion: " + "r" * 47), "CA007/felixconfiguration-openstack-region"),
    ("felix-feature-override", felix("featureDetectOverride: 'SNATFullyRandom'"),
     "CA007/felixconfiguration-key-value-lists"),
    ("felix-node-port-ranges", felix("kubeNodePortRanges: [1, 2, 3, 4, 5, 6, 7, 8]"),
     "CA007/felixconfiguration-node-port-ranges"),
    ("felix-go-gc", felix("goGCThreshold: -2"), "CA007/felixconfiguration-runtime-limits"),
    ("felix-ok-scoped", _doc("FelixConfiguration", "rack-a", "nodeSelector: rack == 'a'\nbpfLogLevel: Info"), None),
    ("felix-node-selector", felix("nodeSelector: rack == 'a'"), "CA007/felixconfiguration-node-selector"),
    ("felix-node-selector-node", _doc("FelixConfiguration", "node.worker-1", "nodeSelector: all()"),
     "CA007/felixconfiguration-node-selector"),
    ("felix-ok-conntrack", felix("bpfConntrackTimeouts: {tcpEstablished: 1h, udpTimeout: Auto}"), None),
    ("felix-conntrack", felix("bpfConntrackTimeouts: {tcpEstablished: forever}"), "CA007/felixconfiguration-bpf"),
    ("felix-failsafe", felix("failsafeInboundHostPorts: [{protocol: tcp, port: 22}]"),
     "CA007/felixconfiguration-failsafe-protocol"),
    # ---- Metadata: names, labels, annotations, profiles -------------------------------------
    ("meta-ok-annotations", hep(HEP_OK, "  annotations:\n    example.com/owner: team-a\n    note: ok\n"), None),
    ("meta-annotation-key", hep(HEP_OK, "  annotations:\n    'bad key': x\n"), "CA007/metadata-annotations"),
    ("meta-annotation-prefix", hep(HEP_OK, "  annotations:\n    'bad_prefix/x': y\n"), "CA007/metadata-annotations"),
    ("meta-annotation-size", hep(HEP_OK, f"  annotations:\n    big: '{'x' * (256 * 1024)}'\n"),
     "CA007/metadata-annotations"),
    ("meta-rule-annotation", gnp("ingress:\n- action: Allow\n  metadata:\n    annotations: {'a/b/c': x}"),
     "CA007/metadata-annotations"),
    ("meta-name", hep(HEP_OK).replace("name: node1-eth0", "name: test$set"), "CA007/metadata-name"),
    ("meta-label-value", hep(HEP_OK, f"  labels:\n    a: '{'v' * 64}'\n"), "CA007/metadata-labels"),
    ("meta-ok-label-value", hep(HEP_OK, f"  labels:\n    a: '{'v' * 63}'\n"), None),
    ("hep-ok-profiles", hep(HEP_OK + "profiles: [projectcalico-default-allow, kns.default]"), None),
    ("hep-profile", hep(HEP_OK + "profiles: [Bad_Profile]"), "CA007/hostendpoint-profiles"),
    ("netset-reserved-label", _doc("GlobalNetworkSet", "testset", "nets: [10.0.0.1]",
                                   "  labels:\n    projectcalico.org/namespace: foo\n"),
     "CA007/networkset-namespace-label"),
    # ---- BGPFilter, IPReservation, AS numbers -----------------------------------------------
    ("filter-ok", bgp_filter("exportV4:\n- {action: Accept, matchOperator: In, cidr: 10.0.0.0/8, "
                              "prefixLength: {min: 16, max: 24}}\nimportV6:\n- {action: Reject, interface: 'eth*'}"), None),
    ("filter-cidr-no-op", bgp_filter("exportV4:\n- {action: Accept, cidr: 10.0.0.0/8}"), "CA007/bgpfilter-match"),
    ("filter-op-no-cidr", bgp_filter("exportV4:\n- {action: Accept, matchOperator: In}"), "CA007/bgpfilter-match"),
    ("filter-prefix-no-cidr", bgp_filter("importV4:\n- {action: Accept, prefixLength: {min: 8}}"),
     "CA007/bgpfilter-match"),
    ("filter-family", bgp_filter("exportV4:\n- {action: Accept, matchOperator: Equal, cidr: 'fd00::/8'}"),
     "CA007/bgpfilter-match"),
    ("filter-prefix-range", bgp_filter("exportV6:\n- {action: Accept, matchOperator: In, cidr: 'fd00::/8', "
                                        "prefixLength: {max: 129}}"), "CA007/bgpfilter-match"),
    ("filter-action-case", bgp_filter("exportV4:\n- {action: accept}"), "CA007/bgpfilter-values"),
    ("filter-operator", bgp_filter("exportV4:\n- {action: Accept, matchOperator: Contains, cidr: 10.0.0.0/8}"),
     "CA007/bgpfilter-values"),
    ("filter-interface", bgp_filter("exportV4:\n- {action: Accept, interface: 'eth0 eth1'}"), "CA007/bgpfilter-values"),
    ("ipres-ok", _doc("IPReservation", "r", "reservedCIDRs: [10.0.0.0/24, 10.1.0.1]"), None),
    ("ipres-bad", _doc("IPReservation", "r", "reservedCIDRs: [garbage]"), "CA007/ipreservation-cidrs"),
    ("peer-ok-dotted-as", peer("peerIP: 192.0.2.1\nasNumber: '1.10'"), None),
    ("peer-as-text", peer("peerIP: 192.0.2.1\nasNumber: abc"), "CA007/bgp-as-number"),
    ("peer-as-dotted-big", peer("peerIP: 192.0.2.1\nasNumber: '70000.1'"), "CA007/bgp-as-number"),
    ("bgp-as-too-big", bgp("asNumber: 4294967296"), "CA007/bgp-as-number"),
    # ---- HostEndpoint, IPPool, Tier, policies (existing sub-checks) -------------------------
    ("hep-ok-star", hep("node: node01\ninterfaceName: '*'"), None),
    ("hep-no-node", hep("interfaceName: eth0\nexpectedIPs: [10.0.0.11]"), "CA007/hostendpoint-node"),
    ("hep-no-binding", hep("node: node1"), "CA007/hostendpoint-binding"),
    ("hep-cidr-ip", hep("node: node1\ninterfaceName: eth0\nexpectedIPs: [10.0.0.11/32]"),
     "CA007/hostendpoint-expected-ips"),
    ("pool-ok", pool("cidr: 10.10.0.0/16\nipipMode: Always\nvxlanMode: Never"), None),
    ("pool-both-encaps", pool("cidr: 10.10.0.0/16\nipipMode: Always\nvxlanMode: Always"), "CA007/ippool-encapsulation"),
    ("pool-ipip-v6", pool("cidr: 'fd00::/64'\nipipMode: Always"), "CA007/ippool-ipip-ipv6"),
    ("pool-small", pool("cidr: 10.10.0.0/27"), "CA007/ippool-block-size"),
    ("pool-lb-encap", pool("cidr: 10.10.0.0/16\nallowedUses: [LoadBalancer]\nvxlanMode: Always"),
     "CA007/ippool-allowed-uses"),
    ("tier-default-order", _doc("Tier", "default", "order: 100"), "CA007/tier-reserved"),
    ("policy-ok", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 8}"), None),
    ("policy-action", gnp("ingress:\n- action: allow"), "CA007/policy-rule-action"),
    ("policy-icmp-no-type", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {code: 0}"),
     "CA007/policy-rule-icmp"),
    ("policy-icmp-version", gnp("ingress:\n- action: Allow\n  protocol: ICMPv6\n  ipVersion: 4"),
     "CA007/policy-rule-icmp-version"),
    ("policy-http-deny", gnp("ingress:\n- action: Deny\n  http: {methods: [GET]}"), "CA007/policy-rule-http"),
]


def np(spec: str, name: str = "thing") -> str:
    return _doc("NetworkPolicy", name, "selector: all()\n" + spec, namespace="prod")


def kcc(spec: str) -> str:
    return _doc("KubeControllersConfiguration", "default", spec)


X = "x" * (256 * 1024)
HEPB = "node: node01\ninterfaceName: eth0\n"
SVC = "services: {name: service1, namespace: default}"

# Calico's own validator test table (projectcalico/calico libcalico-go/lib/validator/v3/validator_test.go,
# ``DescribeTable("Validator", ...)``), entry by entry for the kinds a repository holds, each written as a
# manifest of ours: (id, manifest, the rule or CA007 sub-check that reports it, or None when Calico accepts it).
# Rejections the schema (CA002), selector (CA003), network (CA004), port (CA005) or host-policy (CA202,
# CA203) rules own are expected from those rules. Left out: WorkloadEndpoint, Node, NodeStatus, IPNAT,
# BlockAffinity and ProfileSpec entries (objects Calico creates itself, not manifests), and the three
# entries that accept a bare address in BGPConfiguration service ranges: the v3.32 CRD (`format: cidr`)
# and confd refuse those, and CA004 reports them.
CALICO_TABLE: list[tuple[str, str, str | tuple[str, ...] | None]] = [
    # ---- rules and policies ----
    ("act-unknown", gnp("ingress:\n- action: unknown"), 'CA007/policy-rule-action'),
    ("act-allowfoo", gnp("ingress:\n- action: allowfoo"), 'CA007/policy-rule-action'),
    ("act-none", gnp("ingress:\n- protocol: TCP"), 'CA002'),
    ("ipv0", gnp("ingress:\n- action: Allow\n  ipVersion: 0"), 'CA002'),
    ("sel-bad", gnp("ingress:\n- action: Allow\n  source: {selector: 'thing=hello &'}"), 'CA003'),
    ("rule-ann-bad", gnp("ingress:\n- action: Allow\n  metadata: {annotations: {'...': bar}}"), 'CA007/metadata-annotations'),
    ("rule-ann-ok", gnp("ingress:\n- action: Allow\n  metadata: {annotations: {foo: bar}}"), None),
    ("icmp-254", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 254}"), None),
    ("icmp-128-255", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 128, code: 255}"), None),
    ("icmp-255", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 255}"), 'CA002'),
    ("icmp-code-256", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 128, code: 256}"), 'CA002'),
    ("icmp-no-proto", gnp("ingress:\n- action: Allow\n  ipVersion: 4\n  icmp: {type: 0}"), 'CA007/policy-rule-icmp'),
    ("icmp-v6-noipver", gnp("ingress:\n- action: Allow\n  protocol: ICMPv6\n  icmp: {type: 0}"), None),
    ("icmp-ipv6", gnp("ingress:\n- action: Allow\n  protocol: ICMP\n  ipVersion: 6"), 'CA007/policy-rule-icmp-version'),
    ("ports-proto7", gnp("ingress:\n- action: Allow\n  protocol: 7\n  source: {ports: [1]}"), 'CA005'),
    ("ports-proto7-empty", gnp("ingress:\n- action: Allow\n  protocol: 7\n  source: {ports: []}"), None),
    ("named-proto6", gnp("ingress:\n- action: Allow\n  protocol: 6\n  source: {ports: [foo]}"), None),
    ("notports-100", gnp("ingress:\n- action: Allow\n  protocol: 100\n  source: {notPorts: [1]}"), 'CA005'),
    ("notports-0-100", gnp("ingress:\n- action: Allow\n  protocol: TCP\n  destination: {notPorts: ['0:100']}"), 'CA005'),
    ("notports-200-100", gnp("ingress:\n- action: Allow\n  protocol: TCP\n  destination: {notPorts: ['200:100']}"), 'CA005'),
    ("proto-unknown-named", gnp("ingress:\n- action: Allow\n  protocol: unknown\n  destination: {notPorts: [foo]}"), 'CA007/policy-rule-protocol'),
    ("icmp-lower-notports", gnp("ingress:\n- action: Allow\n  ipVersion: 4\n  protocol: icmp\n  destination: {notPorts: [1]}"), 'CA007/policy-rule-protocol'),
    ("dest-ports-noproto", gnp("ingress:\n- action: Allow\n  destination: {ports: [1]}"), 'CA005'),
    ("http-udp", gnp("ingress:\n- action: Allow\n  protocol: UDP\n  http: {methods: [GET]}"), 'CA007/policy-rule-http'),
    ("http-egress", gnp("egress:\n- action: Allow\n  http: {methods: [GET]}"), 'CA007/policy-rule-http'),
    ("http-ok", gnp("ingress:\n- action: Allow\n  protocol: TCP\n  http: {methods: [GET], paths: [{exact: /foo}, {prefix: /bar}]}"), None),
    ("http-path-both", gnp("ingress:\n- action: Allow\n  http: {paths: [{exact: /foo, prefix: /bar}]}"), 'CA007/policy-rule-http'),
    ("http-path-q", gnp("ingress:\n- action: Allow\n  http: {paths: [{exact: '/fo?o'}]}"), 'CA007/policy-rule-http'),
    ("http-path-space", gnp("ingress:\n- action: Allow\n  http: {paths: [{exact: '/fo o'}]}"), 'CA007/policy-rule-http'),
    ("http-path-hash", gnp("ingress:\n- action: Allow\n  http: {paths: [{exact: '/f#oo'}]}"), 'CA007/policy-rule-http'),
    ("http-path-empty", gnp("ingress:\n- action: Allow\n  http: {paths: [{}]}"), 'CA007/policy-rule-http'),
    ("http-dup", gnp("ingress:\n- action: Allow\n  http: {methods: [GET, GET, Foo]}"), 'CA007/policy-rule-http'),
    ("gnp-name-tilde", gnp("", name="t~!s.h.i.ng"), 'CA007/metadata-name'),
    ("gnp-name-case", gnp("", name="tHiNg"), 'CA007/metadata-name'),
    ("gnp-name-knp", gnp("", name="knp.default.thing"), 'CA007/metadata-name'),
    ("gnp-name-dots", gnp("", name="t.h.i.ng"), 'CA007/metadata-name'),
    ("gnp-prednat-noaof", gnp("preDNAT: true"), 'CA202'),
    ("gnp-dnt-noaof", gnp("doNotTrack: true"), 'CA202'),
    ("gnp-prednat-egress", gnp("preDNAT: true\napplyOnForward: true\negress:\n- action: Allow"), 'CA203'),
    ("gnp-prednat-types-egress", gnp("preDNAT: true\napplyOnForward: true\ntypes: [Egress]"), 'CA203'),
    ("gnp-prednat-types-both", gnp("preDNAT: true\napplyOnForward: true\ntypes: [Ingress, Egress]"), 'CA203'),
    ("gnp-types-dup", gnp("types: [Egress, Egress]"), 'CA002'),
    ("gnp-types-bad", gnp("types: [unexpected]"), 'CA002'),
    ("gnp-types-ok", gnp("ingress:\n- action: Allow\ntypes: [Egress]"), None),
    ("gnp-ns-global", gnp("namespaceSelector: global()"), 'CA007/policy-global-selector'),
    ("gnp-sa-global", gnp("serviceAccountSelector: global()"), 'CA007/policy-global-selector'),
    ("gnp-entity-global", gnp("ingress:\n- action: Allow\n  source: {selector: global()}"), 'CA007/policy-rule-global-selector'),
    ("gnp-entity-ns-global-ok", gnp("ingress:\n- action: Allow\n  source: {namespaceSelector: '  global()  '}\n  destination: {namespaceSelector: \"projectcalico.org/name == 'test'\"}"), None),
    ("gnp-entity-ns-global-and", gnp("ingress:\n- action: Allow\n  source: {namespaceSelector: ' global() && all()'}"), 'CA007/policy-rule-global-selector'),
    ("gnp-entity-ns-global-or", gnp("ingress:\n- action: Allow\n  source: {namespaceSelector: 'global()||all()'}"), 'CA007/policy-rule-global-selector'),
    ("np-name-dot", np("", name="t.h.i.ng"), 'CA007/metadata-name'),
    ("np-name-case", np("", name="tHiNg"), 'CA007/metadata-name'),
    ("np-name-253", np("", name="x" * 253), None),
    ("np-name-254", np("", name="x" * 254), 'CA007/metadata-name'),
    ("np-name-knp", np("", name="knp.default.thing"), None),
    ("np-svc-egress-dst", np(f"egress:\n- action: Allow\n  destination: {{{SVC}}}"), None),
    ("np-svc-egress-src", np(f"egress:\n- action: Allow\n  source: {{{SVC}}}"), 'CA007/policy-rule-services'),
    ("np-svc-ingress-src", np(f"ingress:\n- action: Allow\n  source: {{{SVC}}}"), None),
    ("np-svc-sa", np(f"ingress:\n- action: Allow\n  destination: {{{SVC}, serviceAccounts: {{names: [sa]}}}}"), 'CA007/policy-rule-services'),
    ("np-svc-ports", np(f"egress:\n- action: Allow\n  destination: {{{SVC}, ports: [80]}}"), 'CA007/policy-rule-services'),
    ("np-svc-notports", np(f"egress:\n- action: Allow\n  destination: {{{SVC}, notPorts: [80]}}"), 'CA007/policy-rule-services'),
    ("np-svc-src-ports-ok", np(f"ingress:\n- action: Allow\n  protocol: TCP\n  source: {{{SVC}, ports: [80]}}"), None),
    ("np-svc-nets", np(f"ingress:\n- action: Allow\n  destination: {{{SVC}, nets: [10.0.0.0/8]}}"), 'CA007/policy-rule-services'),
    ("np-svc-notnets", np(f"ingress:\n- action: Allow\n  destination: {{{SVC}, notNets: [10.0.0.0/8]}}"), 'CA007/policy-rule-services'),
    ("np-svc-sel", np(f"ingress:\n- action: Allow\n  destination: {{{SVC}, selector: \"x == 'y'\"}}"), 'CA007/policy-rule-services'),
    ("np-svc-notsel", np(f"ingress:\n- action: Allow\n  destination: {{{SVC}, notSelector: \"x == 'y'\"}}"), 'CA007/policy-rule-services'),
    ("np-svc-nssel", np(f"ingress:\n- action: Allow\n  destination: {{{SVC}, namespaceSelector: \"x == 'y'\"}}"), 'CA007/policy-rule-services'),
    ("gnp-svc-nons", gnp("egress:\n- action: Allow\n  destination: {services: {name: service1}}"), 'CA007/policy-rule-services'),
    ("np-global-sel", np("").replace("selector: all()", "selector: global()"), 'CA007/policy-global-selector'),
    # ---- HostEndpoint ----
    ("hep-profile-dot", hep(HEPB + "profiles: ['.fun']"), 'CA007/hostendpoint-profiles'),
    ("hep-profile-knp", hep(HEPB + "profiles: [knp.default.fun, knp.default.funner.11234-a, fun-funner1234]"), None),
    ("hep-port-unnamed", hep(HEPB + "ports: [{protocol: TCP, port: 1234}]"), 'CA002'),
    ("hep-port-ok", hep(HEPB + "ports: [{name: a-valid-port, protocol: TCP, port: 1234}, {name: a-valid-port, protocol: UDP, port: 5456}]"), None),
    ("hep-blank", hep("node: node01\ninterfaceName: ''\nexpectedIPs: []"), 'CA007/hostendpoint-binding'),
    ("hep-ips-only", hep("node: node01\nexpectedIPs: [1.2.3.4, 'aabb:aabb::ffff']"), None),
    # ---- IPPool, IPReservation, network sets ----
    ("pool-27", pool("cidr: 1.2.3.0/27"), 'CA007/ippool-block-size'),
    ("pool-27-disabled", pool("cidr: 1.2.3.0/27\ndisabled: true"), None),
    ("pool-v6-128", pool("cidr: 'aabb:aabb::ffff/128'"), 'CA007/ippool-block-size'),
    ("pool-v6-128-disabled", pool("cidr: 'aabb:aabb::ffff/128'\ndisabled: true"), None),
    ("pool-v6-122", pool("cidr: 'aabb:aabb::/122'"), None),
    ("pool-33", pool("cidr: 1.2.3.4/33"), 'CA004'),
    ("pool-129", pool("cidr: 'aa:bb::/129'"), 'CA004'),
    ("pool-ll4", pool("cidr: 169.254.5.0/24"), 'CA004'),
    ("pool-ll6", pool("cidr: 'fe80::/120'"), 'CA004'),
    ("pool-uses-bad", pool("cidr: 1.0.0.0/10\nallowedUses: [Garbage]"), 'CA002'),
    ("pool-ipip-never-lc", pool("cidr: 1.2.3.0/24\nipipMode: never"), 'CA002'),
    ("pool-vxlan-never-lc", pool("cidr: 1.2.3.0/24\nvxlanMode: never"), 'CA002'),
    ("pool-ipip-bad", pool("cidr: 1.2.3.0/24\nipipMode: badVal"), 'CA002'),
    ("pool-nodesel-bad", pool("cidr: 1.2.3.0/26\nnodeSelector: this is not valid selector syntax"), 'CA003'),
    ("pool-name-253", _doc("IPPool", "x" * 253, "cidr: 1.2.3.0/26"), None),
    ("pool-name-254", _doc("IPPool", "x" * 254, "cidr: 1.2.3.0/26"), 'CA007/metadata-name'),
    ("pool-label-upper-domain", _doc("IPPool", "pool.name", "cidr: 1.2.3.0/26", "  labels: {ProjectCalico.org/label: value}\n"), 'CA007/metadata-labels'),
    ("pool-label-upper-name", _doc("IPPool", "pool.name", "cidr: 1.2.3.0/26", "  labels: {projectcalico.org/Label: value}\n"), None),
    ("pool-ann-dollar", _doc("IPPool", "pool.name", "cidr: 1.2.3.0/26", "  annotations: {projectcalico.org$label: value}\n"), 'CA007/metadata-annotations'),
    ("pool-ann-upper", _doc("IPPool", "pool.name", "cidr: 1.2.3.0/26", "  annotations: {ProjectCalico.org/Label: value}\n"), None),
    ("pool-ann-256k-ok", _doc("IPPool", "pool.name", "cidr: 1.2.3.0/26", f"  annotations: {{key: '{X[:-3]}'}}\n"), None),
    ("pool-ann-256k-bad", _doc("IPPool", "pool.name", "cidr: 1.2.3.0/26", f"  annotations: {{key: '{X[:-2]}'}}\n"), 'CA007/metadata-annotations'),
    ("pool-ipip-v1", pool("cidr: 1.2.3.0/24\nipipMode: Never\nipip: {enabled: true, mode: always}"), 'CA002'),
    ("pool-nat-v1", pool("cidr: 1.2.3.0/24\nipipMode: Never\nnat-outgoing: true"), 'CA002'),
    ("ipres-33", _doc("IPReservation", "r", "reservedCIDRs: [10.0.1.0/33]"), 'CA007/ipreservation-cidrs'),
    ("ipres-ok", _doc("IPReservation", "r", "reservedCIDRs: [10.0.0.1, 'cafe::1', 'cafe:f00d::/96']"), None),
    ("gns-garbage", _doc("GlobalNetworkSet", "s", "nets: [garbage]"), 'CA004'),
    ("gns-ok", _doc("GlobalNetworkSet", "s", "nets: [10.0.0.1, 11.0.0.0/8, 'dead:beef::', 'dead:beef::/96']"), None),
    ("ns-bad-name", _doc("NetworkSet", "test$set", "nets: [10.0.0.1]", namespace="prod"), 'CA007/metadata-name'),
    ("ns-reserved", _doc("NetworkSet", "s", "nets: [10.0.0.1]", "  labels: {projectcalico.org/namespace: foo}\n", namespace="prod"), 'CA007/networkset-namespace-label'),
    # ---- BGPConfiguration ----
    ("bgp-log-bad", bgp("logSeverityScreen: invalidLvl"), 'CA002'),
    ("bgp-cluster-bad", bgp("serviceClusterIPs: [{cidr: x.x.x.x}]"), 'CA004'),
    ("bgp-comm-noname", bgp("communities: [{value: '536:785'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), 'CA007/bgpconfiguration-communities'),
    ("bgp-comm-novalue", bgp("communities: [{name: community-test}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), 'CA007/bgpconfiguration-communities'),
    ("bgp-comm-ok-large", bgp("communities: [{name: community-test, value: '100:520:56'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), None),
    ("bgp-comm-100", bgp("communities: [{name: community-test, value: '100'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), 'CA002'),
    ("bgp-comm-ab", bgp("communities: [{name: community-test, value: 'ab-n'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), 'CA002'),
    ("bgp-comm-41", bgp("communities: [{name: community-test, value: '4147483647:999999'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), 'CA007/bgpconfiguration-communities'),
    ("bgp-pa-nocidr", bgp("prefixAdvertisements: [{communities: ['100:5964']}]"), 'CA007/bgpconfiguration-prefix-advertisements'),
    ("bgp-pa-nocomm", bgp("prefixAdvertisements: [{cidr: 192.168.10.0/28}]"), 'CA007/bgpconfiguration-prefix-advertisements'),
    ("bgp-pa-ok", bgp("prefixAdvertisements: [{cidr: '2001:4860::/128', communities: ['100:5964:1147483647', '100:5223']}]"), None),
    ("bgp-pa-big", bgp("prefixAdvertisements: [{cidr: '2001:4860::/128', communities: ['100:100:5147483647']}]"), 'CA007/bgpconfiguration-prefix-advertisements'),
    # ---- FelixConfiguration ----
    ("fx-backend-bad", felix("iptablesBackend: badVal"), 'CA002'),
    ("fx-backend-ok", felix("iptablesBackend: NFT"), None),
    ("fx-e2h-drop", felix("defaultEndpointToHostAction: drop"), 'CA002'),
    ("fx-mangle-drop", felix("iptablesMangleAllowAction: Drop"), 'CA002'),
    ("fx-npr-8", felix("kubeNodePortRanges: ['3000:4000', '5000:6000', '7000:8000', '8000:9000', '10000:11000', '12000:13000', '14000:15000', '16000:17000']"), 'CA007/felixconfiguration-node-port-ranges'),
    ("fx-npr-7", felix("kubeNodePortRanges: ['3000:4000', '5000:6000', '7000:8000', '8000:9000', '10000:11000', '12000:13000', 15000]"), None),
    ("fx-npr-named", felix("kubeNodePortRanges: [testport]"), 'CA005'),
    ("fx-ext-ok", felix("externalNodesList: [1.1.1.1, 1.1.1.2/32, 1.1.3.0/23]"), None),
    ("fx-ext-foobar", felix("externalNodesList: [foobar, 1.1.1.1]"), 'CA007/felixconfiguration-nat'),
    ("fx-ext-v6", felix("externalNodesList: ['abcd::1', 'abef::2/128']"), 'CA007/felixconfiguration-nat'),
    ("fx-os-FOO", felix("openstackRegion: FOO"), 'CA007/felixconfiguration-openstack-region'),
    ("fx-os-long", felix("openstackRegion: my-region-has-a-very-long-and-extremely-interesting-name"), 'CA007/felixconfiguration-openstack-region'),
    ("fx-sev-bad", felix("logSeverityScreen: badVal"), 'CA002'),
    ("fx-sevfile-bad", felix("logSeverityFile: badVal"), 'CA002'),
    ("fx-sevsys-crit", felix("logSeveritySys: Critical"), 'CA002'),
    ("fx-sev-fatal", felix("logSeverityScreen: Fatal\nlogSeverityFile: Debug\nlogSeveritySys: Info"), None),
    ("fx-natif-ok", felix("iptablesNATOutgoingInterfaceFilter: cali-123"), None),
    ("fx-natif-at", felix("iptablesNATOutgoingInterfaceFilter: cali@123"), 'CA007/felixconfiguration-nat'),
    ("fx-bpflog-bad", felix("bpfLogLevel: badVal"), 'CA002'),
    ("fx-bpfsvc-foo", felix("bpfExternalServiceMode: Foo"), 'CA002'),
    ("fx-connmark-neg", felix("bpfExtToServiceConnmark: -1"), 'CA007/felixconfiguration-runtime-limits'),
    ("fx-connmark-big", felix("bpfExtToServiceConnmark: 4294967296"), 'CA007/felixconfiguration-runtime-limits'),
    ("fx-connmark-ok", felix("bpfExtToServiceConnmark: 4294967295"), None),
    ("fx-bpfiface-star", felix("bpfDataIfacePattern: '*'"), 'CA007/felixconfiguration-regex'),
    ("fx-mtuiface-star", felix("mtuIfacePattern: '*'"), 'CA007/felixconfiguration-regex'),
    ("fx-rtr-neg", felix("routeTableRange: {min: -5, max: 250}"), 'CA007/felixconfiguration-route-tables'),
    ("fx-rtr-253", felix("routeTableRange: {min: 1, max: 253}"), 'CA007/felixconfiguration-route-tables'),
    ("fx-rtr-rev", felix("routeTableRange: {min: 50, max: 45}"), 'CA007/felixconfiguration-route-tables'),
    ("fx-rtr-eq", felix("routeTableRange: {min: 8, max: 8}"), None),
    ("fx-rtrs-ok", felix("routeTableRanges: [{min: 8, max: 8}, {min: 7, max: 7}]"), None),
    ("fx-rtrs-neg", felix("routeTableRanges: [{min: -5, max: 250}]"), 'CA007/felixconfiguration-route-tables'),
    ("fx-rtrs-huge", felix("routeTableRanges: [{min: 1, max: 64424509440}]"), 'CA007/felixconfiguration-route-tables'),
    ("fx-rtrs-65536", felix("routeTableRanges: [{min: 1, max: 65536}]"), 'CA007/felixconfiguration-route-tables'),
    ("fx-rtrs-multi", felix("routeTableRanges: [{min: 1, max: 2}, {min: 3, max: 4}, {min: 5, max: 65536}]"), 'CA007/felixconfiguration-route-tables'),
    ("fx-health-0", felix("healthTimeoutOverrides: [{name: Valid, timeout: 0s}]"), None),
    ("fx-health-neg", felix("healthTimeoutOverrides: [{name: Valid, timeout: -1ns}]"), 'CA007/felixconfiguration-health-timeouts'),
    ("fx-health-pct", felix("healthTimeoutOverrides: [{name: '%', timeout: 10ns}]"), 'CA007/felixconfiguration-health-timeouts'),
    ("fx-health-empty", felix("healthTimeoutOverrides: [{name: '', timeout: 10ns}]"), 'CA007/felixconfiguration-health-timeouts'),
    ("fx-natout-bad", felix("natOutgoingAddress: 999.999.999.999"), 'CA007/felixconfiguration-nat'),
    ("fx-natout-masked", felix("natOutgoingAddress: 1.2.3.4/32"), 'CA007/felixconfiguration-nat'),
    ("fx-prom-hash", felix("prometheusMetricsHost: 'localhost#'"), 'CA007/felixconfiguration-prometheus-host'),
    ("fx-prom-sp", felix("prometheusMetricsHost: '0: 1::1'"), 'CA007/felixconfiguration-prometheus-host'),
    ("fx-prom-ok", felix("prometheusMetricsHost: 'fe80::ea7a:70fa:cf74:25d5'"), None),
    ("fx-drsa-v6", felix("deviceRouteSourceAddress: 'aabb:aabb::ffff'"), 'CA007/felixconfiguration-nat'),
    ("fx-drsa-masked", felix("deviceRouteSourceAddress: 1.2.3.4/32"), 'CA007/felixconfiguration-nat'),
    ("fx-drsa6-bad", felix("deviceRouteSourceAddressIPv6: 'xyz:::'"), 'CA007/felixconfiguration-nat'),
    ("fx-drsa6-masked", felix("deviceRouteSourceAddressIPv6: 'aabb:aabb::ffff/128'"), 'CA007/felixconfiguration-nat'),
    ("fx-wg-port-ok", felix("wireguardListeningPort: 12345\nwireguardRoutingRulePriority: 12345"), None),
    ("fx-wg-iface-amp", felix("wireguardInterfaceName: 'wg&0'"), 'CA007/felixconfiguration-wireguard'),
    ("fx-slp-wibbly", felix("serviceLoopPrevention: Wibbly"), 'CA002'),
    ("fx-aws-enable", felix("awsSrcDstCheck: enable"), 'CA002'),
    ("fx-aws-bad", felix("awsSrcDstCheck: badVal"), 'CA002'),
    ("fx-aws-ok", felix("awsSrcDstCheck: DoNothing"), None),
    # ---- BGPPeer ----
    ("peer-src-rubbish", peer("peerIP: 1.2.3.4\nsourceAddress: rubbish"), 'CA002'),
    ("peer-src-ok", peer("peerIP: 1.2.3.4\nsourceAddress: None"), None),
    ("peer-sel-bad", peer("nodeSelector: \"kubernetes.io/hostname: == 'casey-crc-kadm-node-4'\""), 'CA003'),
    ("peer-v6-noport", peer("peerIP: '[9000::]:'"), 'CA007/bgppeer-peer-ip'),
    ("peer-v6-65536", peer("peerIP: '[9000::]:65536'"), 'CA007/bgppeer-peer-ip'),
    ("peer-v6-0", peer("peerIP: '[9000::]:0'"), 'CA007/bgppeer-peer-ip'),
    ("peer-v6-98956", peer("peerIP: '[9000::]:98956'"), 'CA007/bgppeer-peer-ip'),
    ("peer-v4-port-500", peer("peerIP: '192.168.1.1:500'"), None),
    ("peer-reach-v6-ok", peer("peerIP: '[aabb::ffff]:4444'\nreachableBy: 'aabb:aabb::ffff'"), None),
    ("peer-reach-v6-noip", peer("reachableBy: 'aabb::abcd'"), 'CA007/bgppeer-reachable-by'),
    ("peer-reach-bad6", peer("peerIP: '[aabb::ffff]:4444'\nreachableBy: 'xyz:::'"), 'CA007/bgppeer-reachable-by'),
    ("peer-reach-mismatch-port", peer("peerIP: 9.9.9.9:4444\nreachableBy: 'aabb:aabb::ffff'"), 'CA007/bgppeer-reachable-by'),
    ("peer-reach-mismatch-v6port", peer("peerIP: '[aabb::ffff]:4444'\nreachableBy: 1.2.3.4"), 'CA007/bgppeer-reachable-by'),
    ("peer-restart-ok", peer("peerIP: 1.2.3.4\nmaxRestartTime: 10s"), None),
    # ---- further entries: actions, protocols, selectors, modes and accepted values ----
    ("act-log", gnp("ingress:\n- action: Log\n- action: Deny\n- action: Pass"), None),
    ("ipv-4-6", gnp("ingress:\n- action: Allow\n  ipVersion: 4\n- action: Allow\n  ipVersion: 6"), None),
    ("failsafe-protocols-ok", felix("failsafeInboundHostPorts: [{protocol: UDP, port: 0}, {protocol: TCP, port: 20}, {protocol: SCTP, port: 20}]"), None),
    ("failsafe-jolly", felix("failsafeInboundHostPorts: [{protocol: jolly-UDP, port: 0}]"), 'CA007/felixconfiguration-failsafe-protocol'),
    ("sel-ok", gnp("ingress:\n- action: Allow\n  source: {selector: 'foo == \"bar\"'}\n  destination: {selector: 'has(calico/k8s_ns)'}"), None),
    ("sel-ok-slashes", gnp("ingress:\n- action: Allow\n  source: {selector: 'has(calico/k8s_ns/role)'}\n  destination: {selector: 'has(calico/k8s_NS-.1/role)'}"), None),
    ("proto-ok", gnp("ingress:\n- {action: Allow, protocol: UDPLite}\n- {action: Allow, protocol: 1}\n- {action: Allow, protocol: 255}\n- {action: Allow, protocol: '255'}"), None),
    ("proto-0", gnp("ingress:\n- {action: Allow, protocol: 0}"), 'CA007/policy-rule-protocol'),
    ("proto-256-text", gnp("ingress:\n- {action: Allow, protocol: '256'}"), 'CA007/policy-rule-protocol'),
    ("proto-0-text", gnp("ingress:\n- {action: Allow, protocol: '0'}"), 'CA007/policy-rule-protocol'),
    ("proto-tcpfoo", gnp("ingress:\n- {action: Allow, protocol: tcpfoo}"), 'CA007/policy-rule-protocol'),
    ("proto-footcp", gnp("ingress:\n- {action: Allow, protocol: footcp}"), 'CA007/policy-rule-protocol'),
    ("proto-tcp-lower", gnp("ingress:\n- {action: Allow, protocol: tcp}"), 'CA007/policy-rule-protocol'),
    ("pool-modes-ok", pool("cidr: 1.2.3.0/24\nipipMode: CrossSubnet\nvxlanMode: Never"), None),
    ("pool-vxlan-cross-ok", pool("cidr: 1.2.3.0/24\nvxlanMode: CrossSubnet"), None),
    ("pool-vxlan-bad", pool("cidr: 1.2.3.0/24\nvxlanMode: badVal"), 'CA002'),
    ("pool-both-always", pool("cidr: 1.2.3.0/24\nipipMode: Always\nvxlanMode: Always"), 'CA007/ippool-encapsulation'),
    ("pool-uses-ok", pool("cidr: 1.0.0.0/10\nallowedUses: [Workload, Tunnel]"), None),
    ("pool-v6-10-ok", pool("cidr: 'aa00::/10'\nipipMode: Never\nvxlanMode: Never"), None),
    ("pool-v6-vxlan-128", pool("cidr: 'aabb:aabb::ffff/128'\nvxlanMode: Always\nipipMode: Never"), 'CA007/ippool-block-size'),
    ("pool-nodesel-ok", pool("cidr: 1.2.3.0/26\nnodeSelector: foo == \"bar\""), None),
    ("slp-ok", felix("serviceLoopPrevention: Reject"), None),
    ("fx-mangle-return-ok", felix("iptablesMangleAllowAction: Return\niptablesFilterAllowAction: Accept\niptablesFilterDenyAction: Drop\ndefaultEndpointToHostAction: Drop"), None),
    ("fx-bpf-modes-ok", felix("bpfLogLevel: 'Off'\nbpfExternalServiceMode: Tunnel\nbpfDataIfacePattern: eth.*\nmtuIfacePattern: eth.*"), None),
    ("fx-rtrs-big-ok", felix("routeTableRanges: [{min: 1, max: 10000}]"), None),
    ("fx-wg-port-bad", felix("wireguardListeningPort: 99999"), 'CA007/felixconfiguration-wireguard'),
    ("fx-wg-prio-bad", felix("wireguardRoutingRulePriority: 99999"), 'CA007/felixconfiguration-wireguard'),
    ("fx-natout-v6", felix("natOutgoingAddress: 'aabb:aabb::ffff'"), 'CA007/felixconfiguration-nat'),
    ("fx-drsa6-v4", felix("deviceRouteSourceAddressIPv6: 1.2.3.4"), 'CA007/felixconfiguration-nat'),
    ("fx-os-empty-ok", felix("openstackRegion: ''"), None),
    ("peer-ok-password", peer("peerIP: 1.2.3.4\npassword: {secretKeyRef: {name: tigera-bgp-passwords, key: my-peering}}"), None),
    ("peer-ok-selectors", peer("nodeSelector: has(mylabel)\npeerSelector: has(mylabel)"), None),
    ("peer-ok-reach-port", peer("peerIP: 9.9.9.9:4444\nreachableBy: 1.2.3.4"), None),
    ("bgp-mesh-ok", bgp("nodeToNodeMeshEnabled: true\nnodeMeshPassword: {secretKeyRef: {name: test-secret, key: bgp-password}}\nnodeMeshMaxRestartTime: 200s"), None),
    ("bgp-comm-std-ok", bgp("communities: [{name: community-test, value: '100:520'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), None),
    ("bgp-comm-16bit", bgp("communities: [{name: community-test, value: '65536:999999'}]\nprefixAdvertisements: [{cidr: 192.168.10.0/28, communities: ['100:100']}]"), 'CA007/bgpconfiguration-communities'),
    ("bgp-pa-named-ok", bgp("communities: [{name: community-test, value: '101:5695'}]\nprefixAdvertisements: [{cidr: '2001:4860::/128', communities: [community-test, '8988:202']}]"), None),
    ("bgp-pa-undefined", bgp("prefixAdvertisements: [{cidr: '2001:4860::/128', communities: [non-existent-community]}]"), 'CA007/bgpconfiguration-prefix-advertisements'),
    ("bgp-pa-std-big", bgp("prefixAdvertisements: [{cidr: '2001:4860::/128', communities: ['100:1147483647']}]"), 'CA007/bgpconfiguration-prefix-advertisements'),
    ("bgp-unused-comm", bgp("communities: [{name: community-test, value: '101:5695'}]"), 'CA007/bgpconfiguration-communities'),
    ("bgp-ifaces-ok", bgp("ignoredInterfaces: ['valid_iface*', interface_name]"), None),
    ("bgp-ifaces-star", bgp("ignoredInterfaces: ['*']"), 'CA007/bgpconfiguration-ignored-interfaces'),
    ("bgp-mesh-pw-off", bgp("nodeToNodeMeshEnabled: false\nnodeMeshPassword: {secretKeyRef: {name: test-secret, key: bgp-password}}"), 'CA007/bgpconfiguration-node-mesh'),
    ("bgp-mesh-restart-off", bgp("nodeToNodeMeshEnabled: false\nnodeMeshMaxRestartTime: 200s"), 'CA007/bgpconfiguration-node-mesh'),
    ("bgp-log-lower", bgp("logSeverityScreen: info"), 'CA007/bgpconfiguration-log-severity'),
    ("kcc-ok-empty-controllers", kcc("controllers: {node: {}, policy: {}, workloadEndpoint: {}, serviceAccount: {}, namespace: {}}"), None),
    # ---- KubeControllersConfiguration ----
    ("kcc-health-bad", kcc("healthChecks: invalid"), 'CA002'),
    ("kcc-log-bad", kcc("logSeverityScreen: invalid"), 'CA002'),
    ("kcc-sync-yes", kcc("controllers: {node: {syncLabels: 'yes'}}"), 'CA002'),
    ("kcc-auto-totally", kcc("controllers: {node: {hostEndpoint: {autoCreate: Totally}}}"), 'CA002'),
    ("kcc-ok", kcc("healthChecks: Enabled\nlogSeverityScreen: Error\netcdV3CompactionPeriod: 12m\ncontrollers: {node: {reconcilerPeriod: 5m, syncLabels: Disabled, hostEndpoint: {autoCreate: Enabled}}, policy: {reconcilerPeriod: 330s}}"), None),
]


_REMEDY_IN_MESSAGE = re.compile(r"; (?:write|use|set|add|remove|keep|move|rename|give|make|merge|choose)\b")


def _fix_apart(findings: list[Finding]) -> list[str]:
    """Findings of CA004, CA005 and CA007 whose message still carries its remedy, or whose fix is not a sentence."""
    bad = []
    for f in findings:
        if f.rule_id not in ("CA004", "CA005", "CA007"):
            continue
        if _REMEDY_IN_MESSAGE.search(f.message) or (f.fix and not (f.fix[0].isupper() and f.fix.endswith("."))):
            bad.append(f"{f.message} || {f.fix}")
    return bad


@pytest.mark.parametrize(("case", "manifest", "expected"), CALICO_TABLE, ids=[c[0] for c in CALICO_TABLE])
def test_calico_validator_table(
    tmp_path: Path, case: str, manifest: str, expected: str | tuple[str, ...] | None
) -> None:
    result = run_files(tmp_path, {"m.yaml": manifest})
    assert _fix_apart(result.findings) == []
    owners = ("CA002", "CA003", "CA004", "CA005", "CA007", "CA202", "CA203")
    found = [f for f in result.findings if f.rule_id in owners]
    if expected is None:
        assert found == [], [f.message for f in found]
        return
    wanted = [expected] if isinstance(expected, str) else list(expected)
    if wanted[0].startswith("CA007/"):
        assert sorted({sub_id(f) for f in found if f.rule_id == "CA007"}) == sorted(wanted), [f.message for f in found]
    else:
        assert wanted[0] in {f.rule_id for f in found}, [f.message for f in found]


def test_calico_table_covers_every_kind_and_both_outcomes() -> None:
    kinds = {m.split("kind: ", 1)[1].split("\n", 1)[0] for _, m, _ in CALICO_TABLE}
    assert {"GlobalNetworkPolicy", "NetworkPolicy", "HostEndpoint", "IPPool", "IPReservation", "BGPPeer",
            "BGPConfiguration", "FelixConfiguration", "GlobalNetworkSet", "NetworkSet"} <= kinds
    valid = [c for c in CALICO_TABLE if c[2] is None]
    assert len(valid) >= 30 and len(CALICO_TABLE) - len(valid) >= 120
    assert len({c[0] for c in CALICO_TABLE}) == len(CALICO_TABLE)


@pytest.mark.parametrize(("case", "manifest", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validator_parity(tmp_path: Path, case: str, manifest: str, expected: str | tuple[str, ...] | None) -> None:
    result = run_files(tmp_path, {"m.yaml": manifest})
    assert _fix_apart(result.findings) == []
    ca007 = sorted({sub_id(f) for f in result.findings if f.rule_id == "CA007"})
    if expected is None:
        assert ca007 == [], [f.message for f in result.findings if f.rule_id == "CA007"]
        assert not [f.message for f in result.findings if f.rule_id == "CA002"]
    else:
        wanted = sorted([expected] if isinstance(expected, str) else expected)
        assert ca007 == wanted, [f.message for f in result.findings if f.rule_id == "CA007"]


def test_every_new_sub_check_has_a_failing_parity_case() -> None:
    from auditor import catalog

    rule = catalog.find("CA007")
    assert rule is not None
    covered = {e for _, _, expected in CASES if expected for e in ([expected] if isinstance(expected, str) else expected)}
    kinds = ("bgp", "felixconfiguration", "metadata-annotations", "hostendpoint-profiles", "ipreservation")
    new = {s.id for s in rule.sub_checks if any(s.short.startswith(k) for k in kinds)}
    assert new - {"CA007/bgpconfiguration-name"} <= covered


@pytest.mark.parametrize(
    ("manifest", "value", "fix"),
    [
        (felix("bpfLogLevel: debug"), "debug", "Debug"),
        (felix("iptablesMangleAllowAction: accept"), "accept", "Accept"),
        (bgp("logSeverityScreen: warning"), "warning", "Warning"),
    ],
)
def test_lower_case_values_name_the_version_that_rejects_them(
    tmp_path: Path, manifest: str, value: str, fix: str
) -> None:
    result = run_files(tmp_path, {"m.yaml": manifest})
    found = [f for f in result.findings if f.rule_id == "CA007"]
    assert len(found) == 1
    assert f": {value}`" in found[0].message and "Calico v3.32" in found[0].message
    assert found[0].fix == f"Write `{fix}`." and fix not in found[0].message
    assert not [f for f in result.findings if f.rule_id == "CA002"]  # the v3.32 CRD pattern accepts it


def test_findings_point_at_the_offending_field(tmp_path: Path) -> None:
    text = peer("node: node1\nnodeSelector: all()\npeerIP: 9.9.9.9:0\nasNumber: 64512")
    result = run_files(tmp_path, {"m.yaml": text})
    places = sorted(
        (sub_id(f), f.location.span.line, f.location.span.column) for f in result.findings if f.rule_id == "CA007"
    )
    assert places == [("CA007/bgppeer-node-selection", 6, 3), ("CA007/bgppeer-peer-ip", 8, 11)]


ODD_VALUES = ("~", "[]", "{}", "'²'", "'٣:٤'", "-1", "1e400", "true", "'*'", "[[1]]", "{a: {b: c}}", "''", "'\\u0000'")
FIELDS = {
    "BGPPeer": ("node", "nodeSelector", "peerIP", "peerSelector", "asNumber", "localASNumber", "localWorkloadSelector",
                "keepOriginalNextHop", "nextHopMode", "reachableBy"),
    "BGPConfiguration": ("nodeToNodeMeshEnabled", "nodeMeshPassword", "ignoredInterfaces", "communities",
                         "prefixAdvertisements", "localWorkloadPeeringIPV4", "logSeverityScreen", "asNumber"),
    "BGPFilter": ("exportV4", "importV6"),
    "IPReservation": ("reservedCIDRs",),
    "FelixConfiguration": ("routeTableRange", "routeTableRanges", "logDebugFilenameRegex", "wireguardListeningPort",
                           "wireguardInterfaceName", "natOutgoingAddress", "natPortRange", "externalNodesList",
                           "bpfLogLevel", "bpfDSROptoutCIDRs", "bpfLogFilters", "healthTimeoutOverrides",
                           "prometheusMetricsHost", "openstackRegion", "featureGates", "kubeNodePortRanges",
                           "goGCThreshold", "failsafeInboundHostPorts"),
    "HostEndpoint": ("profiles",),
    "GlobalNetworkPolicy": ("ingress", "egress"),
}


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_odd_values_never_crash_a_sub_check(tmp_path: Path, kind: str) -> None:
    """Every new field given odd YAML (nulls, lists, maps, huge or non-ASCII numbers): findings, never a crash."""
    docs = []
    for i, value in enumerate(ODD_VALUES):
        spec = "\n".join(f"{field}: {value}" for field in FIELDS[kind])
        nested = "\n".join(f"{field}: [{value}, {{min: {value}, max: {value}, name: {value}}}]" for field in FIELDS[kind])
        docs.append(_doc(kind, f"odd-{i}", spec))
        docs.append(_doc(kind, f"nested-{i}", nested))
    docs.append(_doc(kind, "annotated", "node: n", f"  annotations: {{{', '.join(f'k{i}: {v}' for i, v in enumerate(ODD_VALUES))}}}\n"))
    result = run_files(tmp_path, {"m.yaml": "---\n".join(docs)})  # debug: a crash fails the test
    assert not result.internal_errors
    assert all(f.location.span.line >= 1 for f in result.findings)
