"""Parity with Calico's own validator, kind by kind (CA007 sub-checks).

Each entry is a manifest of ours modelled on a case of Calico v3.32's validator tests and rules
(``libcalico-go/lib/validator/v3/validator.go`` and ``validator_test.go``, and the CEL rules of the
v3.32.1 CRDs): valid manifests give no CA007 and no CA002 finding; invalid ones give exactly the
expected CA007 sub-check (and nothing from other CA007 sub-checks).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.engine import sub_id
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


@pytest.mark.parametrize(("case", "manifest", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validator_parity(tmp_path: Path, case: str, manifest: str, expected: str | tuple[str, ...] | None) -> None:
    result = run_files(tmp_path, {"m.yaml": manifest})
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
