"""CA207 allow-list-without-deny: preDNAT allows chosen sources, but nothing denies the others."""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPAddress, IPSet

from auditor.addrset import AddressSet
from auditor.api import AutoFix, Context, Edit, Issue, Related, Rule, Severity, Witness
from auditor.model import HostEndpoint, Policy, PolicyRule
from auditor.nets import describe
from auditor.packet.questions import TCP, Evaluator, Questions, ServiceAddress, Verdict, sample_address
from auditor.ports import PortRange, protocol_name
from auditor.wording import guide

RULE = Rule(
    id="CA207",
    name="allow-list-without-deny",
    title="preDNAT rules allow chosen sources to a cluster IP, but nothing denies the other sources",
    severity=Severity.ERROR,
    rationale=(
        "Pre-DNAT policy has no default drop: a packet that matches no preDNAT rule simply continues, and "
        "forwarded traffic is allowed unless an applyOnForward policy denies it. An allow-list of sources for "
        "a cluster IP therefore restricts nothing by itself: every other source still reaches the Service. The "
        "guide's own recipe (step 2) has exactly this gap."
    ),
    remediation=(
        "Add a GlobalNetworkPolicy on the same host endpoints with `preDNAT: true`, `applyOnForward: true`, a "
        "higher `order` than the allows, and an ingress `Deny` whose destination is the advertised range (or "
        "the cluster IPs). Keep the pod-CIDR allow before it (CA204)."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/network-policy/hosts/protect-hosts-tutorial",
        "https://docs.tigera.io/calico/latest/reference/host-endpoints/pre-dnat",
    ),
    tags=("cluster-mode", "exposure"),
    guide_step="Cluster mode, step 2 (the guide omits the Deny)",
    autofix="unsafe",
    autofix_text=(
        "adds, after the allow-list's document, a GlobalNetworkPolicy with the same selector, `preDNAT: true`, "
        "`applyOnForward: true`, a higher `order` and an ingress Deny to the advertised range that holds the "
        "address: every source the allow-lists do not name loses access (for the findings on Service addresses)"
    ),
)


def _allow_list_rules(ev: Evaluator, address: ServiceAddress) -> list[tuple[PolicyRule, int]]:
    """preDNAT/untracked Allow rules with a restricted source whose destination names ``address``."""
    out: list[tuple[PolicyRule, int]] = []
    for policy, rule, index in ev.host_rules_naming(address.ip):
        if not (policy.pre_dnat or policy.do_not_track) or rule.action != "Allow" or not ev.is_host_policy(policy):
            continue
        src = rule.source
        if (src.nets or src.not_nets or src.effective_selector is not None) and rule not in [r for r, _ in out]:
            out.append((rule, index))
    return out


def _host_allow_lists(ev: Evaluator) -> Iterator[tuple[PolicyRule, HostEndpoint]]:
    """Allow rules of host policy that admit chosen sources (valid nets) to ports of the host itself."""
    for group in ev.hep_groups:
        hep = group[0]
        if not hep.valid_expected_ips:
            continue
        for policy in ev.policies_for_hep(hep):
            for rule in policy.ingress:
                src, dst = rule.source, rule.destination
                if rule.action != "Allow" or not src.nets or len(src.valid_nets) != len(src.nets):
                    continue
                if not dst.ports or dst.nets or dst.effective_selector is not None or rule.protocol is None:
                    continue
                yield rule, hep


def _decided_by_default(verdict: Verdict) -> bool:
    """Allowed by no rule of anyone's: a profile, a failsafe port or the absence of policy."""
    step = verdict.decisive
    return verdict.allowed and step is not None and step.rule is None


def _host_findings(ctx: Context, q: Questions) -> Iterator[Issue]:
    ev = q.ev
    seen: set[int] = set()
    for rule, hep in _host_allow_lists(ev):
        if id(rule) in seen or not ctx.in_focus(rule.policy):
            continue
        listed = IPSet(rule.source.valid_nets)
        others = ev.outside_universe(4) - AddressSet.of(4, rule.source.valid_nets)
        port = next((r.value.lo for r in rule.destination.ports if isinstance(r.value, PortRange)), None)
        if port is None or not others:
            continue
        protocol = rule.protocol.value if rule.protocol is not None else TCP
        client = sample_address(others)
        verdict = ev.to_host(ev.outside_peer(client), hep, port, protocol)
        if not _decided_by_default(verdict):
            continue
        seen.add(id(rule))
        witness = q.host_ingress(hep, client, port, protocol)
        step = verdict.decisive
        assert step is not None
        yield Issue(
            message=(
                f"{rule.policy.display} {rule.label} means to admit only {describe(listed)} to port {port}/"
                f"{protocol_name(protocol)} of the hosts, but every other source gets in too: {step.text} "
                f"(e.g. {witness.flow_text} through HostEndpoint {hep.name}). An allow-list restricts only when "
                "something after it denies"
            ),
            fix="Add a Deny for that port after the allow, or remove the default that admits it.",
            at=rule.ptr("source", "nets", 0),
            related=(Related(hep.ptr("metadata", "name"), f"HostEndpoint {hep.name}"),),
            identity=rule.policy.identity,
            key=f"{rule.label}/host",
            witness=witness,
        )


def _named_addresses(ev: Evaluator) -> dict[IPAddress, list[tuple[int, int]]]:
    """Single addresses that pre-DNAT/untracked allow-lists name, with the ports they name (the allow-list
    question needs no Service: its address may belong to one the repository does not hold)."""
    out: dict[IPAddress, list[tuple[int, int]]] = {}
    for policy in ev.host_policies:
        if not (policy.pre_dnat or policy.do_not_track):
            continue
        for rule in policy.ingress:
            if rule.action != "Allow":
                continue
            value = rule.protocol.value if rule.protocol is not None else TCP
            protocol = value if value in (TCP, 17, 132) else TCP
            ports = [(r.value.lo, protocol) for r in rule.destination.ports if isinstance(r.value, PortRange)]
            for ref in rule.destination.nets:
                if ref.value is not None and ref.value.size == 1:
                    found = out.setdefault(IPAddress(ref.value.first, ref.value.version), [])
                    found += [p for p in ports if p not in found]
    return out


def _past_allow_list(verdict: Verdict) -> bool:
    return not verdict.admitted_before_dnat


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    yield from _host_findings(ctx, q)
    for address in [*ev.advertised_addresses(), *ev.unheld_addresses(_named_addresses(ev))]:
        rules = _allow_list_rules(ev, address)
        if not rules or not ctx.in_focus(rules[0][0].policy):  # the finding is placed in the first allow-list
            continue
        leaking = AddressSet(int(address.ip.version))
        example = ""
        witness = None
        listing = {r.policy for r, _ in rules}
        # Where the allow-list applies (an unselected endpoint is CA301's).
        heps = [h for h in ev.ingress_groups() if h is not None and not listing.isdisjoint(ev.policies_for_hep(h))]
        for port in address.service.ports:
            for hep, unlisted in zip(heps, q.who_reaches_unlisted(address, port, heps), strict=True):
                if not unlisted:
                    continue
                leaking |= unlisted
                example = example or f"{address.ip}:{port.port}/{port.protocol}"
                if witness is None:  # the first leaking class (in who_reaches' order) with a witness
                    for cls in q.who_reaches(address, port, hep, remember=False):
                        if cls.reaches_unlisted:
                            witness = q.service_flow(address, port, hep, cls.ips, True, _past_allow_list)
                            if witness is not None:
                                break
        if not leaking or witness is None:
            continue
        rule, index = rules[0]
        allowed = describe(IPSet([r.value for r in rule.source.nets if r.value is not None])) or "the chosen sources"
        yield Issue(
            message=(
                f"{rule.policy.display} {rule.label} allows {allowed} to {address.how} {address.ip} "
                f"({address.service.display}), but nothing denies the other sources: preDNAT has no default drop, "
                f"so {describe(leaking, universe=ev.outside_universe(int(address.ip.version)))} still reach "
                f"{example}"
            ),
            fix=(
                "Add a preDNAT + applyOnForward Deny for the advertised range at a higher order "
                f"{guide('cluster', '2')}; the guide omits it."
            ),
            at=rule.ptr("destination", "nets", index),
            related=(Related(address.ptr(), f"{address.how} of {address.service.display}"),),
            identity=rule.policy.identity,
            key=f"{rule.label}/{address.ip}",
            witness=witness,
            autofix=_deny_fix(ev, [r.policy for r, _ in rules], address, witness),
        )


def _deny_fix(ev: Evaluator, listing: list[Policy], address: ServiceAddress, witness: Witness) -> AutoFix | None:
    """Unsafe fix: the preDNAT Deny the guide omits, as a new policy document after the (first) allow-list.

    None when a Deny cannot help: the port of the leak is a failsafe port, which bypasses pre-DNAT policy.
    """
    policy = listing[0]
    if any(p.tier != "default" or p.is_kubernetes for p in listing):
        return None
    if any(e.port == witness.port and e.protocol.upper() == witness.protocol.upper() for e in ev.facts.failsafe_in):
        return None
    facts = ev.facts
    part = next((s for s in (facts.advertised_cluster, facts.advertised_external, facts.advertised_lb)
                 if address.ip in s), None)
    nets = [str(c) for c in part.iter_cidrs() if address.ip in c] if part is not None else []
    nets = nets or [f"{address.ip}/{32 if address.ip.version == 4 else 128}"]
    names = {p.name for p in ev.model.policies}
    finite = [p.order for p in listing if p.order != float("inf")]
    spec: dict[str, object] = {}
    selector = policy.spec.get("selector")
    if isinstance(selector, str) and selector.strip():
        spec["selector"] = selector
    if len(finite) == len(listing):
        top = max(finite) + 1
        spec["order"] = int(top) if top == int(top) else top
        base = f"{policy.name}-deny"
    else:
        base = max(p.name for p in listing if p.order == float("inf")) + "-deny"
    name, n = base, 2
    while name in names:
        name, n = f"{base}-{n}", n + 1
    spec |= {"preDNAT": True, "applyOnForward": True, "types": ["Ingress"],
             "ingress": [{"action": "Deny", "destination": {"nets": nets}}]}
    document = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": name},
                "spec": spec}
    return AutoFix(
        f"add GlobalNetworkPolicy {name}: a preDNAT Deny to {', '.join(nets)} after the allow-list",
        (Edit("add-document", policy.ptr(), document),),
        safe=False,
    )
