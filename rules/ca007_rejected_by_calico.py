"""CA007 rejected-by-calico: a value or combination Calico's API validation refuses.

Everything Calico's validator (``libcalico-go/lib/validator/v3``), its clients and its CRD rules
reject that is not a schema error (CA002), a selector syntax error (CA003), a network (CA004) or
a port (CA005): names and labels, rule actions and protocols, preDNAT with doNotTrack, misplaced
``global()``, ``services``/``http``/ICMP misuse, HostEndpoint, network-set, IP pool and tier rules,
staged deletes, failsafe protocols and BGPConfiguration names (facts 1.1-1.13).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from auditor.calico_validation import (
    ACTIONS,
    PLACEHOLDER_FIX,
    interface_name_problem,
    is_cidr_notation,
    is_subdomain,
    label_key_problem,
    label_value_problem,
    looks_like_placeholder,
    name_problem,
    protocol_problem,
    suggest_action,
    uses_global,
)
from auditor.catalog import Example, Rule, SubCheck
from auditor.engine import Context
from auditor.findings import Issue, PathT, Related, Severity
from auditor.model import (
    NS_LABEL,
    BGPConfiguration,
    EntityRule,
    FelixConfiguration,
    HostEndpoint,
    IPPool,
    NetworkSet,
    Policy,
    PolicyRule,
    Resource,
    SelectorRef,
    Tier,
    as_dict,
    as_list,
)
from auditor.nets import parse_cidr

_RULE = Rule(
    id="CA007",
    name="rejected-by-calico",
    title="A value or combination that Calico's API validation rejects",
    severity=Severity.ERROR,
    rationale=(
        "`calicoctl` and the Calico API server validate every resource before storing it. A rejected "
        "object is simply not applied: the policy you reviewed never takes effect, or an old version stays "
        "in force. Typical causes are case (`action: allow`, `protocol: tcp`), names with upper case, `_` "
        "or extra dots, `preDNAT` together with `doNotTrack`, `global()` outside a rule's "
        "`namespaceSelector`, `icmp` fields without an ICMP protocol, HostEndpoints without `node` or "
        "without both `interfaceName` and `expectedIPs`, and IP pools that enable IPIP and VXLAN at once."
    ),
    remediation=(
        "Fix the value the finding points at as the message says: use the exact case Calico expects "
        "(`Allow`, `TCP`), lower-case DNS names, one encapsulation per pool, plain addresses in "
        "`expectedIPs`, and `global()` only as a rule's whole `namespaceSelector`."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/globalnetworkpolicy",
        "https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#rule",
        "https://docs.tigera.io/calico/latest/reference/resources/hostendpoint",
        "https://docs.tigera.io/calico/latest/reference/resources/ippool",
    ),
    tags=("structure", "validation"),
    examples=(
        Example(
            title="lower-case action and protocol, preDNAT with doNotTrack",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  applyOnForward: true
  preDNAT: true
  doNotTrack: true
  ingress:
  - action: allow
    protocol: tcp
    destination:
      nets: [10.20.30.40/32]
      ports: [443]
""",
            },
            expect=("8:12", "11:13", "12:15"),
        ),
        Example(
            title="a policy name with upper case and global() in a policy selector",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: Allow_Nodes
spec:
  selector: global()
  ingress:
  - action: Allow
    source:
      namespaceSelector: global() && has(k8s-role)
""",
            },
            expect=("4:9", "6:13", "10:26"),
        ),
        Example(
            title="host endpoints: missing interface and expected IPs, a CIDR in expectedIPs",
            files={
                "heps.yaml": """\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels: {k8s-role: node}
spec:
  node: node1
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node2-eth0
  labels: {k8s-role: node}
spec:
  node: node2
  interfaceName: eth0
  expectedIPs: [10.0.0.12/32]
""",
            },
            expect=("6:1", "17:17"),
        ),
        Example(
            title="icmp fields on a TCP rule, and services combined with a selector",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-nodes-svc-a
  namespace: prod
spec:
  selector: app == 'a'
  ingress:
  - action: Allow
    protocol: TCP
    icmp: {type: 8}
  - action: Allow
    source:
      selector: k8s-role == 'node'
      services: {name: svc-b}
""",
            },
            expect=("11:5", "15:7"),
        ),
        Example(
            title="an IP pool with IPIP and VXLAN both enabled",
            files={
                "pool.yaml": """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pod-pool
spec:
  cidr: 192.168.0.0/16
  ipipMode: Always
  vxlanMode: CrossSubnet
""",
            },
            expect=("8:14",),
        ),
        Example(
            title="a BGPConfiguration name Calico ignores",
            files={
                "bgp.yaml": """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: cluster-ips
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
""",
            },
            expect=("4:9",),
        ),
        Example(
            title="valid resources from the guide",
            files={
                "all.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  types: [Ingress]
  applyOnForward: true
  preDNAT: true
  ingress:
  - action: Allow
    protocol: TCP
    source:
      namespaceSelector: global()
      selector: k8s-role == 'node'
  - action: Allow
    protocol: ICMP
    icmp: {type: 8}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels: {k8s-role: node}
spec:
  node: node1
  interfaceName: eth0
  expectedIPs: [10.0.0.11]
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  failsafeInboundHostPorts:
  - {protocol: TCP, port: 22}
""",
            },
        ),
    ),
)


def _issue(resource: Resource, message: str, path: PathT, on_key: bool = False, **extra: Any) -> Issue:
    return Issue(message, at=resource.ptr_at(path, on_key=on_key), identity=resource.identity, **extra)


def _raw_rule(rule: PolicyRule) -> dict[str, Any]:
    return as_dict(as_list(rule.policy.spec.get(rule.direction))[rule.index]) if not rule.policy.is_kubernetes else {}


def _raw_entity(rule: PolicyRule, side: str) -> dict[str, Any]:
    return as_dict(_raw_rule(rule).get(side))


# ------------------------------------------------------------------------------------------
# Metadata: names and labels (facts 1.1, 1.9)
# ------------------------------------------------------------------------------------------


def _invalid_name(resource: Resource) -> Iterator[Issue]:
    name = as_dict(resource.data.get("metadata")).get("name")
    if not isinstance(name, str) or not name:
        return  # missing or non-string names are schema errors (CA002)
    why = name_problem(resource.kind, name)
    if why:
        yield _issue(resource, f"{resource.kind} name `{name}` {why}", ("metadata", "name"))


def _invalid_labels(resource: Resource) -> Iterator[Issue]:
    labels = as_dict(as_dict(resource.data.get("metadata")).get("labels"))
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        why = label_key_problem(key)
        if why:
            yield _issue(
                resource,
                f"label key `{key}` {why}: Calico rejects labels that are not Kubernetes qualified names",
                ("metadata", "labels", key),
                on_key=True,
            )
        if isinstance(value, str):
            why = label_value_problem(value)
            if why:
                yield _issue(
                    resource,
                    f"label value `{value}` {why}: Calico rejects invalid label values",
                    ("metadata", "labels", key),
                )


def _network_set_namespace_label(netset: NetworkSet) -> Iterator[Issue]:
    labels = as_dict(as_dict(netset.data.get("metadata")).get("labels"))
    if NS_LABEL in labels:
        yield _issue(
            netset,
            f"`{NS_LABEL}` is reserved: Calico sets it on namespaced objects itself and rejects it on a "
            f"{netset.kind}; select the set by another label, or use `namespaceSelector` in rules",
            ("metadata", "labels", NS_LABEL),
            on_key=True,
        )


# ------------------------------------------------------------------------------------------
# Policies (facts 1.2-1.5, 1.7)
# ------------------------------------------------------------------------------------------


def _pre_dnat_with_do_not_track(policy: Policy) -> Iterator[Issue]:
    if policy.pre_dnat and policy.do_not_track:
        yield _issue(
            policy,
            "`preDNAT` and `doNotTrack` are both true: a policy applies in one stage only (untracked or "
            "pre-DNAT), so Calico rejects it; keep one of them",
            ("spec", "preDNAT"),
            related=(Related(policy.ptr("spec", "doNotTrack"), "doNotTrack"),),
        )


def _global_in_policy_selectors(policy: Policy) -> Iterator[Issue]:
    for ref, field_name in (
        (policy.selector, "selector"),
        (policy.service_account_selector, "serviceAccountSelector"),
        (policy.namespace_selector, "namespaceSelector"),
    ):
        if ref is not None and ref.is_yaml_string and uses_global(ref.text):
            yield _issue(
                policy,
                f"`global()` in the policy's `{field_name}`: Calico allows `global()` only as the whole "
                "`namespaceSelector` of a rule's source or destination; select host endpoints by their labels "
                "(e.g. `k8s-role == 'node'`)",
                ref.path,
            )


def _staged_delete_with_spec(policy: Policy) -> Iterator[Issue]:
    if not policy.staged or policy.spec.get("stagedAction") != "Delete":
        return
    for key, value in policy.spec.items():
        if key in ("stagedAction", "tier") or value in (None, "", [], {}, False):
            continue
        yield _issue(
            policy,
            f"`{key}` is set on a staged policy with `stagedAction: Delete`: Calico requires every other spec "
            "field to be empty when staging a delete; remove it (or use `stagedAction: Set`)",
            ("spec", key),
            on_key=True,
        )


def _action_spelling(rule: PolicyRule) -> Iterator[Issue]:
    raw = _raw_rule(rule).get("action")
    if not isinstance(raw, str) or raw in ACTIONS:
        return
    suggestion = suggest_action(raw)
    fix = f"write `{suggestion}`" if suggestion else f"use one of {', '.join(ACTIONS)}"
    yield _issue(
        rule.policy,
        f"action `{raw}` is not one of {', '.join(ACTIONS)} (case-sensitive): Calico rejects the policy; {fix}",
        rule.path + ("action",),
    )


def _protocol_spelling(rule: PolicyRule) -> Iterator[Issue]:
    for ref, field_name in ((rule.protocol, "protocol"), (rule.not_protocol, "notProtocol")):
        if ref is None or ref.ok:
            continue
        why = protocol_problem(ref.raw)
        if why:
            yield _issue(rule.policy, f"{field_name} `{ref.raw}` {why}", ref.path)


def _global_in_rule_selectors(rule: PolicyRule) -> Iterator[Issue]:
    for entity in (rule.source, rule.destination):
        if entity.selector is not None and uses_global(entity.selector.text):
            yield _issue(
                rule.policy,
                "`global()` in a rule `selector`: Calico allows it only as the whole `namespaceSelector`; "
                "write `namespaceSelector: global()` next to the selector",
                entity.selector.path,
            )
        yield from _global_not_alone(rule.policy, entity.namespace_selector)


def _global_not_alone(policy: Policy, ref: SelectorRef | None) -> Iterator[Issue]:
    if ref is None or ref.selector is None or not uses_global(ref.text) or ref.selector.is_exactly_global():
        return
    yield _issue(
        policy,
        f"namespaceSelector `{ref.text}` combines `global()` with other terms: Calico accepts `global()` only "
        "as the whole namespaceSelector; write `namespaceSelector: global()` and match the endpoints' labels "
        "with `selector`",
        ref.path,
    )


_SERVICE_CONFLICTS = (
    ("selector", "selector"),
    ("notSelector", "notSelector"),
    ("namespaceSelector", "namespaceSelector"),
    ("serviceAccounts", "serviceAccounts"),
    ("nets", "nets"),
    ("notNets", "notNets"),
)


def _services_misuse(rule: PolicyRule) -> Iterator[Issue]:
    policy = rule.policy
    for side, entity in (("source", rule.source), ("destination", rule.destination)):
        if entity.services is None:
            continue
        yield from _services_in_entity(rule, side, entity)
    if rule.direction == "egress" and rule.source.services is not None:
        yield _issue(
            policy,
            "`services` in an egress rule's source: Calico allows a service match only as the destination of "
            "egress rules; move it to `destination`",
            rule.source.path + ("services",),
            on_key=True,
        )
    if rule.direction == "ingress" and rule.destination.services is not None:
        yield _issue(
            policy,
            "`services` in an ingress rule's destination: Calico allows a service match only as the source of "
            "ingress rules; to police traffic to a Service, select its pods in the policy `selector`",
            rule.destination.path + ("services",),
            on_key=True,
        )


def _services_in_entity(rule: PolicyRule, side: str, entity: EntityRule) -> Iterator[Issue]:
    policy = rule.policy
    services: Mapping[str, Any] = entity.services or {}
    at = entity.path + ("services",)
    if not services.get("name"):
        yield _issue(policy, "`services` without `name`: Calico requires the Service name", at, on_key=True)
    raw = _raw_entity(rule, side)
    conflicts = [key for key, _ in _SERVICE_CONFLICTS if raw.get(key) not in (None, "", [], {})]
    if conflicts:
        shown = ", ".join(f"`{c}`" for c in conflicts)
        yield _issue(
            policy,
            f"`services` together with {shown} in the same {side}: Calico rejects this combination (a service "
            "match already stands for the Service's endpoints); use a separate rule for the other criteria",
            at,
            on_key=True,
            related=tuple(Related(policy.ptr_at(entity.path + (c,), on_key=True), c) for c in conflicts),
        )
    outward = (rule.direction == "egress" and side == "destination") or (
        rule.direction == "ingress" and side == "source"
    )
    if policy.is_global and outward and not services.get("namespace"):
        yield _issue(
            policy,
            "`services` without `namespace` in a global policy: Calico cannot tell which namespace's Service "
            "is meant and rejects it; add `namespace`",
            at,
            on_key=True,
        )
    if side == "destination":
        for key in ("ports", "notPorts"):
            if raw.get(key):
                yield _issue(
                    policy,
                    f"destination `services` with `{key}`: Calico matches the Service's own endpoint ports and "
                    f"rejects extra ports; remove `{key}`",
                    entity.path + (key,),
                    on_key=True,
                )


def _http_misuse(rule: PolicyRule) -> Iterator[Issue]:
    if not rule.has_http:
        return
    policy = rule.policy
    at = rule.path + ("http",)
    if rule.direction == "egress":
        yield _issue(policy, "`http` in an egress rule: Calico allows HTTP matches only in ingress rules", at, True)
    elif rule.action != "Allow" and rule.action in ACTIONS:
        yield _issue(
            policy,
            f"`http` on a `{rule.action}` rule: Calico allows HTTP matches only on Allow rules",
            at,
            True,
        )
    if rule.protocol is not None and rule.protocol.value not in (None, 6):
        yield _issue(
            policy,
            f"`http` with `protocol: {rule.protocol.raw}`: HTTP runs over TCP, so Calico requires protocol "
            "`TCP` (or none)",
            rule.protocol.path,
        )
    yield from _http_match_values(rule)


def _http_match_values(rule: PolicyRule) -> Iterator[Issue]:
    policy = rule.policy
    http = as_dict(_raw_rule(rule).get("http"))
    seen: set[str] = set()
    for i, method in enumerate(as_list(http.get("methods"))):
        if not isinstance(method, str):
            continue
        if method in seen:
            yield _issue(
                policy,
                f"HTTP method `{method}` is listed twice: Calico rejects duplicate methods; remove one",
                rule.path + ("http", "methods", i),
            )
        seen.add(method)
    for i, path in enumerate(as_list(http.get("paths"))):
        entry = as_dict(path)
        exact, prefix = entry.get("exact"), entry.get("prefix")
        value = exact or prefix
        where = rule.path + ("http", "paths", i)
        if exact and prefix:
            yield _issue(policy, "an HTTP path sets both `exact` and `prefix`: Calico requires exactly one", where)
        elif not isinstance(value, str) or not value:
            yield _issue(policy, "an HTTP path sets neither `exact` nor `prefix`: Calico requires one", where)
        elif not value.startswith("/") or any(c in value for c in "?# "):
            yield _issue(
                policy,
                f"HTTP path `{value}` must start with `/` and contain no `?`, `#` or space: Calico rejects it",
                where,
            )


def _icmp_rules(rule: PolicyRule) -> Iterator[Issue]:
    policy, raw = rule.policy, _raw_rule(rule)
    protocol = rule.protocol
    has_icmp = isinstance(raw.get("icmp"), dict)
    # ICMP (1) and ICMPv6 (58), by name or number; a misspelt protocol is reported on its own.
    if has_icmp and (protocol is None or (protocol.ok and protocol.value not in (1, 58))):
        shown = "no protocol" if protocol is None else f"`protocol: {protocol.raw}`"
        yield _issue(
            policy,
            f"`icmp` on a rule with {shown}: Calico rejects ICMP type/code matches unless the rule sets "
            "`protocol: ICMP` (or `ICMPv6`)",
            rule.path + ("icmp",),
            on_key=True,
        )
    for key in ("icmp", "notICMP"):
        fields = as_dict(raw.get(key))
        if "code" in fields and "type" not in fields:
            yield _issue(
                policy,
                f"`{key}.code` without `{key}.type`: the kernel can match an ICMP code only with its type, so "
                "Calico rejects it; add `type`",
                rule.path + (key, "code"),
                on_key=True,
            )


def _icmp_ip_version(rule: PolicyRule) -> Iterator[Issue]:
    if rule.ip_version is None:
        return
    for ref in (rule.protocol, rule.not_protocol):
        if ref is None or not ref.ok:
            continue
        wanted = {"ICMP": 4, "ICMPv6": 6}.get(ref.raw)
        if wanted is not None and wanted != rule.ip_version:
            yield _issue(
                rule.policy,
                f"`{ref.raw}` with `ipVersion: {rule.ip_version}`: {ref.raw} is IPv{wanted}-only, so Calico rejects "
                f"the rule; use `ipVersion: {wanted}` or `{'ICMPv6' if wanted == 4 else 'ICMP'}`",
                rule.path + ("ipVersion",),
            )


def _each_rule(check: Callable[[PolicyRule], Iterator[Issue]]) -> Callable[[Policy], Iterator[Issue]]:
    """A policy sub-check that runs ``check`` on every rule of the policy."""

    def run(policy: Policy) -> Iterator[Issue]:
        for rule in policy.rules:
            yield from check(rule)

    return run


# ------------------------------------------------------------------------------------------
# HostEndpoint (facts 1.8)
# ------------------------------------------------------------------------------------------


def _bad_value_message(field_name: str, value: str, why: str) -> str:
    if looks_like_placeholder(value):
        return (
            f"{field_name} `{value}` is an unfilled placeholder, and Calico rejects the HostEndpoint as written; "
            f"{PLACEHOLDER_FIX}"
        )
    return f"{field_name} `{value}` {why}: Calico rejects the HostEndpoint"


def _host_endpoint_node(hep: HostEndpoint) -> Iterator[Issue]:
    spec = hep.data.get("spec")
    if not isinstance(spec, dict):
        return  # a missing spec is a schema error (CA002)
    node = spec.get("node")
    if node is None or node == "":
        yield _issue(
            hep,
            "HostEndpoint without `node`: Calico rejects it (Felix applies a host endpoint only on the node "
            "named here); set `node` to the node's name",
            ("spec", "node") if "node" in spec else ("spec",),
            on_key=True,
        )
    elif isinstance(node, str) and not is_subdomain(node):
        yield _issue(
            hep,
            _bad_value_message("node", node, "is not a valid node name (a lower-case DNS subdomain)"),
            ("spec", "node"),
        )


def _host_endpoint_binding(hep: HostEndpoint) -> Iterator[Issue]:
    spec = hep.data.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("interfaceName") and not as_list(spec.get("expectedIPs")):
        yield _issue(
            hep,
            "HostEndpoint with neither `interfaceName` nor `expectedIPs`: Calico rejects it because it could "
            "not bind to any interface; add `interfaceName` (or `*`) and the host's `expectedIPs`",
            ("spec",),
            on_key=True,
        )


def _host_endpoint_interface_name(hep: HostEndpoint) -> Iterator[Issue]:
    name = hep.spec.get("interfaceName")
    if isinstance(name, str) and name:
        why = interface_name_problem(name)
        if why:
            yield _issue(hep, _bad_value_message("interfaceName", name, why), ("spec", "interfaceName"))


def _expected_ips_as_cidrs(hep: HostEndpoint) -> Iterator[Issue]:
    for ref in hep.expected_ips:
        if ref.ok or not isinstance(ref.raw, str) or not is_cidr_notation(ref.raw):
            continue
        address = ref.raw.strip().partition("/")[0]
        network = parse_cidr(ref.raw, strict=False)
        if network.prefixlen == (32 if network.version == 4 else 128):
            fix = f"write `{address}`"
        else:
            fix = "list the host's own addresses one by one"
        yield _issue(
            hep,
            f"`{ref.raw}` is a CIDR: expectedIPs take plain IP addresses and Calico rejects CIDR notation; {fix}",
            ref.path,
        )


def _host_endpoint_port_protocols(hep: HostEndpoint) -> Iterator[Issue]:
    for i, item in enumerate(as_list(hep.spec.get("ports"))):
        protocol = as_dict(item).get("protocol")
        why = protocol_problem(protocol) if protocol is not None else None
        if why:
            yield _issue(hep, f"port protocol `{protocol}` {why}", ("spec", "ports", i, "protocol"))


# ------------------------------------------------------------------------------------------
# IP pools (facts 1.11)
# ------------------------------------------------------------------------------------------

_ENABLED_MODES = ("Always", "CrossSubnet")


def _pool_encapsulation(pool: IPPool) -> Iterator[Issue]:
    spec = pool.spec
    ipip, vxlan = spec.get("ipipMode"), spec.get("vxlanMode")
    if ipip in _ENABLED_MODES and vxlan in _ENABLED_MODES:
        yield _issue(
            pool,
            f"`vxlanMode: {vxlan}` with `ipipMode: {ipip}`: a pool uses one encapsulation, so Calico rejects "
            "both enabled; set one of them to `Never`",
            ("spec", "vxlanMode"),
            related=(Related(pool.ptr("spec", "ipipMode"), "ipipMode"),),
        )


def _pool_ipip_ipv6(pool: IPPool) -> Iterator[Issue]:
    ipip = pool.spec.get("ipipMode")
    ipv6 = pool.cidr is not None and pool.cidr.value is not None and pool.cidr.value.version == 6
    if ipip in _ENABLED_MODES and ipv6:
        yield _issue(
            pool,
            f"`ipipMode: {ipip}` on an IPv6 pool: IPIP carries IPv4 only, so Calico rejects it; use "
            "`vxlanMode` or `ipipMode: Never`",
            ("spec", "ipipMode"),
        )


def _pool_block_size(pool: IPPool) -> Iterator[Issue]:
    if pool.cidr is None or pool.cidr.value is None:
        return
    cidr = pool.cidr.value
    raw = pool.spec.get("blockSize")
    block = raw if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= 128 else None
    bounds = (20, 32) if cidr.version == 4 else (116, 128)
    if block is not None and not bounds[0] <= block <= bounds[1]:
        yield _issue(
            pool,
            f"`blockSize: {block}` is outside {bounds[0]}-{bounds[1]} for an IPv{cidr.version} pool: Calico rejects it",
            ("spec", "blockSize"),
        )
        return
    if raw not in (None, 0) and block is None:
        return  # out-of-range values are schema errors (CA002)
    effective = block or (26 if cidr.version == 4 else 122)
    if not pool.disabled and cidr.prefixlen > effective:
        yield _issue(
            pool,
            f"pool `{pool.cidr.raw}` is smaller than one IPAM block (/{effective}): Calico rejects an enabled "
            f"pool that cannot hold a block; use a /{effective} or larger range, or a larger `blockSize`",
            ("spec", "blockSize") if block else ("spec", "cidr"),
        )


def _pool_allowed_uses(pool: IPPool) -> Iterator[Issue]:
    spec = pool.spec
    raw_uses = as_list(spec.get("allowedUses"))
    uses = [u for u in raw_uses if isinstance(u, str)]
    if "LoadBalancer" in uses:
        yield from _load_balancer_pool(pool, raw_uses)
    if "Tunnel" in uses and spec.get("namespaceSelector"):
        yield _issue(
            pool,
            "`namespaceSelector` on a pool used for `Tunnel` addresses: Calico rejects it (tunnel addresses "
            "belong to nodes, not namespaces)",
            ("spec", "namespaceSelector"),
        )


def _load_balancer_pool(pool: IPPool, raw_uses: list[Any]) -> Iterator[Issue]:
    """A LoadBalancer pool has no other use, no encapsulation, BGP export and ``nodeSelector: all()``."""
    spec = pool.spec
    lb_at = pool.ptr("spec", "allowedUses", raw_uses.index("LoadBalancer"))
    for i, use in enumerate(raw_uses):
        if use in ("Workload", "Tunnel"):
            yield _issue(
                pool,
                f"`{use}` together with `LoadBalancer` in allowedUses: Calico requires a LoadBalancer pool to "
                "have no other use; make a separate pool",
                ("spec", "allowedUses", i),
                related=(Related(lb_at, "LoadBalancer"),),
            )
    for key in ("ipipMode", "vxlanMode"):
        if spec.get(key) in _ENABLED_MODES:
            yield _issue(
                pool,
                f"`{key}: {spec.get(key)}` on a LoadBalancer pool: Calico rejects encapsulation for "
                f"LoadBalancer addresses; set `{key}: Never`",
                ("spec", key),
                related=(Related(lb_at, "LoadBalancer"),),
            )
    if spec.get("disableBGPExport") is True:
        yield _issue(
            pool,
            "`disableBGPExport: true` on a LoadBalancer pool: Calico rejects it (LoadBalancer addresses must "
            "be advertised)",
            ("spec", "disableBGPExport"),
        )
    selector = spec.get("nodeSelector")
    if isinstance(selector, str) and selector and selector != "all()" and not uses_global(selector):
        yield _issue(
            pool,
            f"nodeSelector `{selector}` on a LoadBalancer pool: Calico requires `all()` (every node may "
            "advertise LoadBalancer addresses)",
            ("spec", "nodeSelector"),
        )


def _pool_global_selectors(pool: IPPool) -> Iterator[Issue]:
    for key in ("nodeSelector", "namespaceSelector"):
        value = pool.spec.get(key)
        if isinstance(value, str) and uses_global(value):
            yield _issue(pool, f"`global()` in an IP pool {key}: Calico rejects it; use `all()`", ("spec", key))


# ------------------------------------------------------------------------------------------
# Tiers, Felix and BGP configuration (facts 1.10, 1.12, 1.13)
# ------------------------------------------------------------------------------------------

# name: (order, defaultAction) Calico requires; a missing order defaults to 1,000,000 and a missing
# defaultAction to Deny (DefaultTierFields).
_RESERVED_TIERS = {
    "default": (1_000_000.0, "Deny"),
    "kube-admin": (1_000.0, "Pass"),
    "kube-baseline": (10_000_000.0, "Pass"),
}


def _reserved_tier(tier: Tier) -> Iterator[Issue]:
    wanted = _RESERVED_TIERS.get(tier.name)
    if wanted is None:
        return
    order, action = wanted
    spec = tier.spec
    raw_order = spec.get("order", 1_000_000.0)
    if isinstance(raw_order, (int, float)) and not isinstance(raw_order, bool) and raw_order != order:
        yield _issue(
            tier,
            f"tier `{tier.name}` must have `order: {order:g}`: Calico reserves this tier and rejects other orders",
            ("spec", "order") if "order" in spec else ("spec",),
            on_key="order" not in spec,
        )
    raw_action = spec.get("defaultAction", "Deny")
    if isinstance(raw_action, str) and raw_action in ("Deny", "Pass") and raw_action != action:
        yield _issue(
            tier,
            f"tier `{tier.name}` must have `defaultAction: {action}`: Calico reserves this tier and rejects "
            "other end-of-tier actions",
            ("spec", "defaultAction") if "defaultAction" in spec else ("spec",),
            on_key="defaultAction" not in spec,
        )


def _failsafe_protocols(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            protocol = as_dict(item).get("protocol")
            if not isinstance(protocol, str) or protocol in ("TCP", "UDP", "SCTP"):
                continue
            fix = (
                f"write `{protocol.upper()}` (lower case is the environment-variable syntax)"
                if protocol.upper() in ("TCP", "UDP", "SCTP")
                else "use TCP, UDP or SCTP"
            )
            yield _issue(
                config,
                f"failsafe protocol `{protocol}`: Calico accepts only `TCP`, `UDP` or `SCTP` here; {fix}",
                ("spec", key, i, "protocol"),
            )


def _bgp_configuration_name(config: BGPConfiguration) -> Iterator[Issue]:
    name = config.name
    if not name or name == "default" or (name.startswith("node.") and len(name) > len("node.")):
        return
    yield _issue(
        config,
        f"BGPConfiguration `{name}` is ignored: Calico reads only `default` (cluster-wide, including the "
        "service IP ranges) and `node.<node-name>` (per node); rename it to `default`",
        ("metadata", "name"),
        severity=Severity.WARNING,
    )


# ------------------------------------------------------------------------------------------


def _calico_resources(ctx: Context) -> Iterator[Resource]:
    return (r for r in ctx.model.resources if r.is_calico)


_ALL = ("*",)
_POLICIES = ("GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy")
_HEP = ("HostEndpoint",)
_POOL = ("IPPool",)

SUB_CHECKS = (
    SubCheck("CA007/metadata-name", _ALL, "names Calico refuses for the kind", _invalid_name),
    SubCheck("CA007/metadata-labels", _ALL, "label keys and values that are not Kubernetes labels", _invalid_labels),
    SubCheck(
        "CA007/networkset-namespace-label",
        ("GlobalNetworkSet", "NetworkSet"),
        "the reserved namespace label on a network set",
        _network_set_namespace_label,
    ),
    SubCheck(
        "CA007/policy-prednat-donottrack", _POLICIES, "`preDNAT` with `doNotTrack`", _pre_dnat_with_do_not_track
    ),
    SubCheck(
        "CA007/policy-global-selector", _POLICIES, "`global()` in a policy's selectors", _global_in_policy_selectors
    ),
    SubCheck(
        "CA007/policy-staged-delete",
        (*_POLICIES, "StagedKubernetesNetworkPolicy"),
        "spec fields on a staged delete",
        _staged_delete_with_spec,
    ),
    SubCheck("CA007/policy-rule-action", _POLICIES, "rule actions (case-sensitive)", _each_rule(_action_spelling)),
    SubCheck("CA007/policy-rule-protocol", _POLICIES, "rule protocols", _each_rule(_protocol_spelling)),
    SubCheck(
        "CA007/policy-rule-global-selector",
        _POLICIES,
        "`global()` in rule selectors, or not alone in a namespaceSelector",
        _each_rule(_global_in_rule_selectors),
    ),
    SubCheck("CA007/policy-rule-services", _POLICIES, "`services` matches", _each_rule(_services_misuse)),
    SubCheck("CA007/policy-rule-http", _POLICIES, "`http` matches", _each_rule(_http_misuse)),
    SubCheck("CA007/policy-rule-icmp", _POLICIES, "`icmp`/`notICMP` fields", _each_rule(_icmp_rules)),
    SubCheck(
        "CA007/policy-rule-icmp-version", _POLICIES, "ICMP protocol vs `ipVersion`", _each_rule(_icmp_ip_version)
    ),
    SubCheck("CA007/hostendpoint-node", _HEP, "`node` missing or not a node name", _host_endpoint_node),
    SubCheck(
        "CA007/hostendpoint-binding", _HEP, "neither `interfaceName` nor `expectedIPs`", _host_endpoint_binding
    ),
    SubCheck("CA007/hostendpoint-interface-name", _HEP, "invalid `interfaceName`", _host_endpoint_interface_name),
    SubCheck("CA007/hostendpoint-expected-ips", _HEP, "CIDRs in `expectedIPs`", _expected_ips_as_cidrs),
    SubCheck("CA007/hostendpoint-port-protocol", _HEP, "named port protocols", _host_endpoint_port_protocols),
    SubCheck("CA007/ippool-encapsulation", _POOL, "IPIP and VXLAN both enabled", _pool_encapsulation),
    SubCheck("CA007/ippool-ipip-ipv6", _POOL, "IPIP on an IPv6 pool", _pool_ipip_ipv6),
    SubCheck("CA007/ippool-block-size", _POOL, "`blockSize` range and pools smaller than a block", _pool_block_size),
    SubCheck("CA007/ippool-allowed-uses", _POOL, "LoadBalancer and Tunnel pool constraints", _pool_allowed_uses),
    SubCheck("CA007/ippool-global-selector", _POOL, "`global()` in pool selectors", _pool_global_selectors),
    SubCheck("CA007/tier-reserved", ("Tier",), "order and defaultAction of reserved tiers", _reserved_tier),
    SubCheck(
        "CA007/felixconfiguration-failsafe-protocol",
        ("FelixConfiguration",),
        "failsafe port protocols",
        _failsafe_protocols,
    ),
    SubCheck(
        "CA007/bgpconfiguration-name",
        ("BGPConfiguration",),
        "names other than `default` and `node.<name>`",
        _bgp_configuration_name,
    ),
)

RULE = replace(_RULE, sub_checks=SUB_CHECKS, scope=_calico_resources)
