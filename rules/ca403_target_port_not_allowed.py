"""CA403 target-port-not-allowed: the pod-side allow names the Service port, not the target port."""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPSet

from auditor.api import AutoFix, Context, Edit, Issue, Related, Rule, Severity, Witness
from auditor.packet.questions import PodSide, PortMistake, Questions
from auditor.ports import protocol_name
from auditor.wording import guide, names, port_text, service_name, who, workload_name

RULE = Rule(
    id="CA403",
    name="target-port-not-allowed",
    title="The pods' allow rule names the Service port (or another port) instead of the target port",
    severity=Severity.ERROR,
    rationale=(
        "kube-proxy rewrites the destination of Service traffic to a backend pod and the Service's `targetPort` "
        "before the pod's ingress policy runs, so the policy sees the target port (a named `targetPort` resolves "
        "through the pods' container ports), never the Service `port`. An allow rule that names the Service port "
        "(the guide's step 3 example allows `ports: [80, 443]`) or another port the pods do not listen on admits "
        "nothing, and the Service's traffic falls through to the end-of-tier drop."
    ),
    remediation=(
        "Name the target port in `destination.ports` (the number, the container port name, or a range that "
        "covers it), e.g. 8443 for `port: 443, targetPort: 8443`."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",
        "https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service",
    ),
    tags=("ports", "dnat"),
    guide_step="Cluster mode step 3",
    autofix="unsafe",
    autofix_text=(
        "replaces a Service `port` named in the pod policy's `destination.ports` by the target port the pods "
        "receive (a single number only); the rule then no longer admits the Service port itself"
    ),
)


def _problem(m: PortMistake) -> str:
    svc, w, target = m.service, m.workload, m.target
    rule = m.rule
    source = f"from {m.source}" if m.source is not None else "from any source"
    named = port_text(m.ref)
    if m.why == "service-port":
        return (
            f"{who(rule.policy)} {rule.label} allows port {named}, the `port` of Service {service_name(svc)}, "
            f"but the pods never receive that port: kube-proxy DNATs Service traffic to the targetPort before pod "
            f"policy runs, so {workload_name(w)} receives it on {target.text}, where nothing admits it {source}"
        )
    if m.why == "unknown-name":
        return (
            f"{who(rule.policy)} {rule.label} admits {m.source} on the named port `{named}`, but no container of "
            f"{workload_name(w)} declares a port of that name ({protocol_name(target.protocol)}), so the rule "
            f"matches none of its traffic and Service {service_name(svc)}'s target port {target.text} is "
            "admitted by nothing"
        )
    return (
        f"{who(rule.policy)} {rule.label} admits {m.source} on port {named}, but Service "
        f"{service_name(svc)} delivers its traffic to {workload_name(w)} on target port {target.text} "
        "after DNAT, where nothing admits it"
    )


def _fix(m: PortMistake) -> str:
    target = m.target
    name = target.port.effective_target
    return (
        f"Name the target port ({target.number}" + (f" or `{name}`" if isinstance(name, str) else "") + ") "
        f"instead of `{port_text(m.ref)}` in `destination.ports` of {who(m.rule.policy)} {m.rule.label} "
        f"{guide('cluster', '3')}."
    )


def _witness(q: Questions, m: PortMistake) -> Witness | None:
    """The flow the mistake breaks: from outside through the Service to the pod (dropped there), or, when
    the Service is not reachable from outside, the pod's own verdict for the source the rule names."""
    if m.target.number is None:
        return None
    # The source the rule names first: from outside when it is an outside client, else its pod verdict.
    clients = IPSet([str(m.source.ip)]) if m.source is not None and m.source.kind == "outside" and m.source.ip else None
    found = q.denied_at_pod(m.service, m.target.port, m.workload, intended_only=False, sources=clients)
    if found is not None:
        return found
    # The nodes of assumed host endpoints have no known address, but the rule's selector names them.
    sources = [m.source] if m.source is not None else [q.ev.node_peer(h) for h in q.ev.host_endpoints if h.assumed]
    for source in sources:
        found = q.pod_chain(m.workload, source, m.target.number, m.target.protocol, allowed=False)
        if found is not None:
            return found
    return q.denied_at_pod(m.service, m.target.port, m.workload, intended_only=False)


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ps: PodSide = q.pods
    chosen: dict[tuple[int, int], list[PortMistake]] = {}
    # Placed in the rule's policy: only backends that a reported policy selects need their mistakes.
    for m in ps.mistakes(lambda w: ctx.any_in_focus(ps.ingress_policies(w))):
        # One finding per ports item: a Kubernetes rule with several `from` peers becomes several Calico
        # rules that share it.
        chosen.setdefault((m.rule.policy.identity, m.ref.path), []).append(m)
    for group in chosen.values():
        group.sort(key=lambda m: m.why != "service-port")
        m = group[0]
        witness = next((w for g in group if (w := _witness(q, g)) is not None), None)
        if witness is None:
            continue  # the evaluator does not show the source dropped on the target port
        services = names(service_name(g.service) for g in group)
        yield Issue(
            message=_problem(m) + (f" (Services: {services})" if len({id(g.service) for g in group}) > 1 else ""),
            fix=_fix(m),
            at=m.rule.policy.ptr_at(m.ref.path),
            related=(
                Related(m.service.ptr_at(m.target.port.path), f"Service {m.service.name} port"),
                Related(m.workload.ptr_at(m.workload.labels_path), workload_name(m.workload)),
            ),
            identity=m.rule.policy.identity,
            key=f"{m.rule.label}:{port_text(m.ref)}",
            witness=witness,
            autofix=_target_port_fix(m),
        )


def _target_port_fix(m: PortMistake) -> AutoFix | None:
    """Unsafe fix: the Service port the rule names becomes the target port (only a single number is rewritten)."""
    raw = getattr(m.ref, "raw", None)
    number = m.target.number
    if m.why != "service-port" or number is None or isinstance(raw, bool):
        return None
    if not (isinstance(raw, int) or (isinstance(raw, str) and raw.isascii() and raw.isdigit())):
        return None
    if int(raw) == number:
        return None
    return AutoFix(
        f"name the target port {number} instead of the Service port {raw} in `destination.ports`",
        (Edit("set", m.rule.policy.ptr_at(m.ref.path), number),),
        safe=False,
    )
