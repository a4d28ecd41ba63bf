"""CA206 nodeport-not-excluded: an allow for host traffic that also opens the nodePort range."""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPAddress, IPSet

from auditor.api import AutoFix, Context, Edit, Issue, Related, Rule, Severity, Witness
from auditor.model import Policy, PolicyRule
from auditor.packet.questions import TCP, AddressKind, Evaluator, Questions, ServiceAddress, Verdict, sample_address
from auditor.ports import ALL_PORTS, PROTOCOL_NUMBERS, PortRange, PortSet
from auditor.wording import guide, origin

RULE = Rule(
    id="CA206",
    name="nodeport-not-excluded",
    title="An allow rule for traffic to the hosts does not exclude the whole nodePort range",
    severity=Severity.ERROR,
    rationale=(
        "NodePort traffic is addressed to the host itself. A broad allow for host traffic also allows it, so "
        "every NodePort Service becomes reachable from the sources of that rule, around the preDNAT allow-list "
        "that was meant to restrict them (with kube-proxy in IPVS mode it is even policed as host traffic). The "
        "guide's host rule therefore uses `notPorts: [\"30000:32767\"]`, for TCP and for UDP."
    ),
    remediation=(
        "Add the nodePort range to `destination.notPorts` of the allow rule, for every protocol it allows "
        "(guide cluster mode, step 2). The range is FelixConfiguration `kubeNodePortRanges` when the repository "
        "sets it, else `cluster.node-port-range` from the configuration, else Kubernetes' 30000:32767; keep it "
        "equal to kube-apiserver `--service-node-port-range`."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/kubernetes-node-ports",),
    tags=("host-endpoints", "exposure"),
    guide_step="Cluster mode, step 2 (allow traffic destined for all host endpoints)",
    autofix="safe",
    autofix_text=(
        "adds the nodePort range to the rule's `destination.notPorts` (creating `notPorts` or `destination` "
        "when missing); only for the error-level findings, not for the good-practice notes"
    ),
)


def _reaches_hosts(ev: Evaluator, rule: PolicyRule) -> bool:
    dst = rule.destination
    if dst.services:
        return False
    if dst.effective_selector is not None and not any(
        dst.effective_selector.matches(h.labels) for h in ev.host_endpoints
    ):
        return False
    nets = [r.value for r in dst.nets if r.value is not None]
    if nets:
        if IPSet(nets).issubset(ev.facts.pod_cidrs | ev.service_range()):
            return False  # the pod-CIDR or cluster-IP rule (CA204, CA207), not a host rule
        hosts = IPSet([str(ip) for hep in ev.host_endpoints for ip in hep.valid_expected_ips])
        if not hosts & IPSet(nets):
            return False
    return True


def _any_source(rule: PolicyRule) -> bool:
    """The rule admits every source (the guide's host rule): a source restriction is a deliberate choice."""
    src = rule.source
    return not (src.nets or src.effective_selector is not None or src.services or src.service_account_names)


def _opened(rule: PolicyRule) -> PortSet:
    dst = rule.destination
    ports = [r.value for r in dst.ports]
    opened = PortSet.of(*[p for p in ports if isinstance(p, PortRange)]) if ports else ALL_PORTS
    excluded = PortSet.of(*[r.value for r in dst.not_ports if isinstance(r.value, PortRange)])
    return opened - excluded


def _stage(policy: Policy) -> str:
    if policy.do_not_track or policy.pre_dnat:
        return "pre"
    return "forward" if policy.apply_on_forward else "host"


def _exposure(q: Questions, policy: Policy, rule: PolicyRule, gap: PortSet, protocol: int) -> Witness | None:
    """A flow from outside to a node port that this rule lets in (the step that decides it is this rule)."""
    ev = q.ev
    heps = [h for h in ev.ingress_groups() if h is not None and policy in ev.policies_for_hep(h)]
    client = sample_address(ev.outside_universe(4))
    for svc in ev.model.services:
        for sp in svc.ports:
            if not sp.node_port or sp.node_port not in gap or PROTOCOL_NUMBERS.get(sp.protocol, TCP) != protocol:
                continue
            for hep in heps:
                if not hep.valid_expected_ips:
                    continue
                node_ip = IPAddress(str(hep.valid_expected_ips[0]))
                address = ServiceAddress(svc, node_ip, AddressKind.NODE_PORT, ("spec", "ports"), True)
                found = q.service_flow(address, sp, hep, client, True, lambda v: _decided_by(v, rule))
                if found is not None:
                    return found
    port = gap.first()
    for hep in heps:
        found = q.host_ingress(hep, client, port, protocol)
        if found.allowed and any(s.at is not None and s.outcome == "allow" for s in found.steps):
            verdict = ev.to_host(ev.outside_peer(client), hep, port, protocol)
            if _decided_by(verdict, rule):
                return found
    return None


def _decided_by(verdict: Verdict, rule: PolicyRule) -> bool:
    return any(step.rule is rule and step.outcome == "allow" for step in verdict.steps)


def _decided_before(q: Questions, policy: Policy, gap: PortSet, protocol: int) -> bool:
    """A pre-DNAT or untracked rule decides the node ports for outside sources before any host rule."""
    ev = q.ev
    client = ev.outside_peer(sample_address(ev.outside_universe(4)))
    heps = [h for h in ev.ingress_groups() if h is not None and policy in ev.policies_for_hep(h)]
    return bool(heps) and all(
        ev.to_host(client, hep, gap.first(), protocol).decisive_stage in ("pre-DNAT", "untracked") for hep in heps
    )


def _not_ports_fix(rule: PolicyRule, node_ports: PortSet) -> AutoFix | None:
    """Exclude the nodePort range in the rule's destination (the guide's `notPorts: ["30000:32767"]`)."""
    ranges: list[str | int] = [f"{lo}:{hi}" if lo != hi else lo for lo, hi in node_ports.ranges]
    if len(ranges) != 1:
        return None
    text = f"add {ranges[0]} to the rule's `destination.notPorts`"
    raw = rule.policy.spec.get(rule.direction)
    item = raw[rule.index] if isinstance(raw, list) and rule.index < len(raw) else None
    dst = item.get("destination") if isinstance(item, dict) else None
    if isinstance(dst, dict):
        if isinstance(dst.get("notPorts"), list):
            return AutoFix(text, (Edit("append-item", rule.ptr("destination", "notPorts"), ranges[0]),))
        if "notPorts" in dst:
            return None
        return AutoFix(text, (Edit("add-key", rule.ptr("destination"), ranges, key="notPorts"),))
    if not isinstance(item, dict) or "destination" in item:
        return None
    return AutoFix(text, (Edit("add-key", rule.ptr(), {"notPorts": ranges}, key="destination"),))


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    node_ports = ev.facts.node_ports
    fact = ev.facts.node_port
    said = origin(fact)
    fix = f"Add `notPorts: [\"{node_ports}\"]` to the rule's destination {guide('cluster', '2')}."
    mode = ev.facts.kube_proxy_mode
    # The fact's note is "kube-proxy in iptables mode (set cluster.kube-proxy-mode)": name the mode once.
    source = ev.facts.kube_proxy.note.partition("(")[2].rstrip(")") or ev.facts.kube_proxy.note
    mode_note = f" ({'assumed; ' if ev.facts.kube_proxy.assumed else ''}{source})"
    for policy in ctx.focused(ev.host_policies):
        if not ev.is_host_policy(policy):
            continue
        for rule in policy.ingress:
            if rule.action != "Allow" or (rule.protocol is not None and rule.protocol.value not in (6, 17, 132)):
                continue
            if not _reaches_hosts(ev, rule) or not _any_source(rule):
                continue
            opened = _opened(rule)
            gap = opened & node_ports
            if not gap or node_ports.issuperset(opened):
                continue  # nothing of the range, or a deliberate allow of chosen nodePorts
            partial = bool(rule.destination.not_ports) or bool(rule.destination.ports)
            proto = rule.protocol.raw if rule.protocol is not None else "every protocol"
            protocol = rule.protocol.value if rule.protocol is not None else TCP
            what = f"still opens {gap} of" if partial else "does not exclude"
            where = (
                rule.ptr("destination", "notPorts", 0)
                if rule.destination.not_ports
                else rule.ptr("destination", "ports")
                if rule.destination.ports
                else rule.ptr()
            )
            stage = _stage(policy)
            sees = stage == "pre" or (stage == "forward" and mode == "ipvs")
            witness = _exposure(q, policy, rule, gap, protocol) if sees else None
            if witness is not None:
                how = (
                    "pre-DNAT policy sees the node port before kube-proxy's DNAT, and its Allow skips the rest of "
                    "host policy"
                    if stage == "pre"
                    else "with kube-proxy in IPVS mode Felix sends NodePort traffic to a host address down the "
                    "forward path, where this applyOnForward rule admits it"
                )
                yield Issue(
                    message=(
                        f"{policy.display} {rule.label} allows traffic to the hosts ({proto}) from any source but "
                        f"{what} the nodePort range {node_ports} ({said}): {how}, so NodePort Services are "
                        f"reachable from everywhere (e.g. {witness.flow_text})"
                    ),
                    fix=fix,
                    at=where,
                    related=(Related(policy.ptr("metadata", "name"), "host policy"),),
                    identity=policy.identity,
                    key=rule.label,
                    witness=witness,
                    autofix=_not_ports_fix(rule, node_ports),
                )
                continue
            if sees or _decided_before(q, policy, gap, protocol):
                continue  # the rule would see node ports, but something else decides them first
            yield Issue(
                message=(
                    f"{policy.display} {rule.label} allows traffic to the hosts ({proto}) but {what} the nodePort "
                    f"range {node_ports} ({said}). Good practice only: kube-proxy in {mode} mode{mode_note} DNATs "
                    "NodePort traffic before this "
                    + ("host" if stage == "host" else "forward")
                    + " policy sees it, so the rule does not open them today; with kube-proxy in IPVS mode an "
                    "applyOnForward rule would"
                ),
                fix=fix,
                at=where,
                related=(Related(policy.ptr("metadata", "name"), "host policy"),),
                identity=policy.identity,
                key=rule.label,
                severity=Severity.NOTE,
            )
