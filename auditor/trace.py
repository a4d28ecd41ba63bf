"""``audit trace``: how Calico and kube-proxy treat one flow from outside, stage by stage."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from netaddr import IPAddress, IPNetwork, IPSet

from auditor.addrset import AddressSet
from auditor.config import Config
from auditor.model import HostEndpoint, Model
from auditor.nets import describe
from auditor.packet.questions import (
    Packet,
    Questions,
    ServiceAddress,
    Step,
    Verdict,
    parse_flow_destination,
    representative,
)
from auditor.ports import protocol_name


class TraceError(ValueError):
    """A flow that cannot be traced (bad address, unknown destination)."""


@dataclass
class TracePath:
    """One answer: for these sources, through this host endpoint, to this backend."""

    sources: IPSet
    host_endpoint: str
    target: str
    verdict: Verdict


@dataclass
class TraceAnswer:
    source: str
    destination: str
    summary: str
    paths: list[TracePath] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.destination,
            "summary": self.summary,
            "notes": self.notes,
            "paths": [
                {
                    "sources": [str(c) for c in p.sources.iter_cidrs()],
                    "host_endpoint": p.host_endpoint,
                    "target": p.target,
                    "verdict": "allowed" if p.verdict.allowed else "denied",
                    "steps": [s.as_dict() for s in p.verdict.steps],
                }
                for p in self.paths
            ],
        }


def _source_set(text: str) -> AddressSet:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise TraceError(f"--from {text!r} is not an IP address or CIDR") from None
    return AddressSet.of(network.version, [IPNetwork(str(network))])


def trace_flow(
    model: Model,
    config: Config,
    source: str,
    destination: str,
    via: str = "",
    egress: bool = False,
    service: str = "",
) -> TraceAnswer:
    """What the packet path does to flows from ``source`` to ``destination``, per class of sources, host
    endpoint and target. ``via`` restricts it to one host endpoint; ``egress`` traces traffic the host
    behind ``via`` sends to ``destination`` (``source`` is then ignored); ``service`` (``namespace/name``)
    treats the destination address as the cluster IP Kubernetes assigns to that Service."""
    try:
        dst_ip, port, protocol = parse_flow_destination(destination)
    except ValueError as exc:
        raise TraceError(f"--to: {exc}") from None
    q = Questions(model, config)
    ev = q.ev
    hep_via = None
    if via:
        hep_via = q.host_endpoint(via)
        if hep_via is None:
            known = ", ".join(sorted(h.name for h in ev.host_endpoints)[:5]) or "none in the repository"
            raise TraceError(f"--via {via!r} is not a HostEndpoint of the audited manifests ({known})")
    flow = f"{dst_ip}:{port}/{protocol_name(protocol)}"
    if egress:
        if hep_via is None:
            raise TraceError("--egress needs --via HOSTENDPOINT (the host that sends the traffic)")
        witness = q.host_egress(hep_via, dst_ip, port, protocol)
        answer = TraceAnswer(f"host {hep_via.node or hep_via.name}", flow, "")
        verdict = ev.from_host(hep_via, ev.outside_peer(dst_ip), port, protocol)
        answer.paths.append(TracePath(IPSet([str(dst_ip)]), hep_via.name, flow, verdict))
        answer.summary = f"{'allowed' if witness.allowed else 'denied'}: host egress to {flow}"
        return answer
    sources = _source_set(source)
    if sources.version != dst_ip.version:
        raise TraceError("--from and --to must be the same IP family")
    answer = TraceAnswer(source, flow, "")
    if not ev.host_endpoints:
        answer.notes.append("no HostEndpoint in the repository: Calico does not police traffic on the hosts")
    groups = [hep_via] if hep_via is not None else ev.ingress_groups()
    if service:
        mapped = q.assigned(service, dst_ip, port, protocol)
        if mapped is None:
            raise TraceError(f"--service {service!r}: no such Service with port {port}/{protocol_name(protocol)}")
        answer.notes.append(f"{dst_ip} stands for the cluster IP Kubernetes assigns to Service {service}")
    else:
        mapped = ev.service_for(dst_ip, port, protocol)
    if mapped is not None:
        svc, sp, how = mapped
        address = next((a for a in ev.service_addresses if a.service is svc and a.ip == dst_ip), None)
        if address is None and service:
            address = ServiceAddress(svc, dst_ip, how, ("spec", "clusterIP"), dst_ip in ev.facts.advertised)
        if address is not None and not address.advertised and ev.facts.advertisement_known:
            answer.notes.append(
                f"{dst_ip} is not inside an advertised range ({ev.facts.advertisement.note}): outside clients "
                "have no route to it"
            )
        if svc.cluster_mode:
            mode = "cluster mode (externalTrafficPolicy: Cluster): the source is SNATed to the node"
        else:
            mode = "local mode (externalTrafficPolicy: Local): the client address is kept"
        if svc.namespace is None:  # an advertised address no Service of the repository holds
            answer.notes.append(
                f"no Service in the repository holds {dst_ip}, an advertised address: traced as a Service the "
                f"repository does not show (cluster mode, backends unknown)"
            )
        else:
            answer.notes.append(f"{flow} is the {how} of Service {svc.namespace}/{svc.name}, {mode}")
        for hep in groups:
            if address is not None:
                for cls in ev.reachability(address, sp, hep, within=sources):
                    for backend, verdict in cls.results:
                        answer.paths.append(TracePath(cls.ips, _hep_name(hep), _backend(backend), verdict))
            else:  # a node port on a host address
                peer = ev.outside_peer(representative(sources))
                for backend, verdict in ev.to_service(peer, hep, svc, sp, dst_ip, how):
                    answer.paths.append(TracePath(sources, _hep_name(hep), _backend(backend), verdict))
    else:
        hosts = [h for h in ev.host_endpoints if any(IPAddress(str(ip)) == dst_ip for ip in h.valid_expected_ips)]
        if hep_via is not None:
            hosts = [h for h in hosts if h is hep_via]
        if hosts:
            hep = hosts[0]
            for cls in ev.source_classes(sources, ev.policies_for_hep(hep)):
                verdict = ev.to_host(ev.outside_peer(representative(cls)), hep, port, protocol)
                answer.paths.append(TracePath(cls, hep.name, f"host {hep.node or hep.name}", verdict))
            answer.notes.append(f"{dst_ip} is an expected IP of HostEndpoint {hep.name}: traffic to the host")
        elif dst_ip in ev.facts.pod_cidrs:
            pools = ev.facts.describe_pod_cidrs()
            answer.notes.append(f"{dst_ip} is inside the pod CIDR ({pools}): forwarded to a pod")
            for hep in groups:
                if hep is None:
                    continue
                for cls in ev.source_classes(sources, ev.policies_for_hep(hep)):
                    pkt = Packet(q.source_peer(representative(cls)), q.pod_address(dst_ip), port, protocol)
                    answer.paths.append(TracePath(cls, hep.name, f"pod {dst_ip}", ev.forwarded(hep, pkt)))
        else:
            raise TraceError(
                f"{flow} is not a Service address and port, a HostEndpoint expected IP or a pod address "
                "in the audited manifests"
            )
    allowed = AddressSet(sources.version)
    for path in answer.paths:
        if path.verdict.allowed:
            allowed |= AddressSet.of(sources.version, [path.sources])
    if not answer.paths:
        answer.summary = "no path"
    elif not sources - allowed:
        answer.summary = f"allowed: every source in {source} reaches {flow}"
    elif not allowed:
        answer.summary = f"denied: no source in {source} reaches {flow}"
    else:
        answer.summary = f"partly allowed: {describe(allowed)} reach {flow}; the rest of {source} does not"
    return answer


def _hep_name(hep: HostEndpoint | None) -> str:
    return hep.name if hep is not None else "(no HostEndpoint)"


def _backend(backend: Any) -> str:
    if backend.workload is None:
        return "backends not in the repository"
    return f"{backend.workload.kind} {backend.workload.namespace}/{backend.workload.name}"


_OUTCOME_STYLE = {"allow": "green", "deny": "red", "pass": "yellow", "no-match": "yellow", "skip": "dim", "info": ""}


def render_trace(answer: TraceAnswer, fmt: str, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps(answer.as_dict(), indent=2) + "\n"
    import io

    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width or 100,
                      color_system="standard" if color else None, highlight=False)
    console.print(Text(f"trace {answer.source} -> {answer.destination}", style="bold"))
    for note in answer.notes:
        console.print(Text(f"  note: {note}", style="dim"))
    for path in answer.paths:
        verdict = "ALLOWED" if path.verdict.allowed else "DENIED"
        console.print()
        header = Text()
        header.append(f"{verdict}", style="bold green" if path.verdict.allowed else "bold red")
        header.append(f"  from {describe(path.sources)} via {path.host_endpoint} to {path.target}")
        console.print(header)
        for number, step in enumerate(path.verdict.steps, 1):
            line = Text(f"  {number}. ")
            line.append(f"[{step.stage}] ", style="cyan")
            line.append(step.text, style=_OUTCOME_STYLE.get(step.outcome, ""))
            at = _where(step)
            if at:
                line.append(f"  ({at})", style="dim")
            console.print(line)
    console.print()
    console.print(Text(answer.summary, style="bold"))
    return buffer.getvalue()


def _where(step: Step) -> str:
    at = step.at
    if at is None:
        return ""
    span = at.doc.locate(at.path, at.on_key)
    return f"{at.doc.file.path}:{span.line}:{span.column}"
