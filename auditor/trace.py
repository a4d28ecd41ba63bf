"""``audit trace``: how Calico and kube-proxy treat one flow from outside, stage by stage."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from netaddr import IPAddress, IPNetwork, IPSet

from auditor.addrset import AddressSet
from auditor.engine import Context
from auditor.model import HostEndpoint
from auditor.nets import describe
from auditor.packet.questions import Evaluator, Packet, Peer, Step, Verdict, parse_flow_destination, representative
from auditor.ports import protocol_name
from auditor.run import AuditResult


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


def trace_flow(result: AuditResult, source: str, destination: str) -> TraceAnswer:
    try:
        dst_ip, port, protocol = parse_flow_destination(destination)
    except ValueError as exc:
        raise TraceError(f"--to: {exc}") from None
    sources = _source_set(source)
    if sources.version != dst_ip.version:
        raise TraceError("--from and --to must be the same IP family")
    ctx = Context(load=result.load, model=result.model, config=result.config)
    ev = Evaluator(ctx.model, ctx.config)
    flow = f"{dst_ip}:{port}/{protocol_name(protocol)}"
    answer = TraceAnswer(source, flow, "")
    if not ev.host_endpoints:
        answer.notes.append("no HostEndpoint in the repository: Calico does not police traffic on the hosts")
    mapped = ev.service_for(dst_ip, port, protocol)
    if mapped is not None:
        svc, sp, how = mapped
        address = next((a for a in ev.service_addresses if a.service is svc and a.ip == dst_ip), None)
        if address is not None and not address.advertised and ev.facts.advertisement_known:
            answer.notes.append(
                f"{dst_ip} is not inside an advertised range ({ev.facts.advertisement.note}): outside clients "
                "have no route to it"
            )
        if svc.cluster_mode:
            mode = "cluster mode (externalTrafficPolicy: Cluster): the source is SNATed to the node"
        else:
            mode = "local mode (externalTrafficPolicy: Local): the client address is kept"
        answer.notes.append(f"{flow} is the {how} of Service {svc.namespace}/{svc.name}, {mode}")
        for hep in ev.ingress_groups():
            if address is not None:
                classes = ev.reachability(address, sp, hep, within=sources)
                for cls in classes:
                    for backend, verdict in cls.results:
                        answer.paths.append(TracePath(cls.ips, _hep_name(hep), _backend(backend), verdict))
            else:  # a node port on a host address
                peer = ev.outside_peer(representative(sources))
                for backend, verdict in ev.to_service(peer, hep, svc, sp, dst_ip, how):
                    answer.paths.append(TracePath(sources, _hep_name(hep), _backend(backend), verdict))
    else:
        hosts = [h for h in ev.host_endpoints if any(IPAddress(str(ip)) == dst_ip for ip in h.valid_expected_ips)]
        if hosts:
            for hep in hosts[:1]:
                for cls in ev.source_classes(sources, ev.policies_for_hep(hep)):
                    verdict = ev.to_host(ev.outside_peer(representative(cls)), hep, port, protocol)
                    answer.paths.append(TracePath(cls, hep.name, f"host {hep.node}", verdict))
            answer.notes.append(f"{dst_ip} is an expected IP of HostEndpoint {hosts[0].name}: traffic to the host")
        elif dst_ip in ev.facts.pod_cidrs:
            pools = ev.facts.describe_pod_cidrs()
            answer.notes.append(f"{dst_ip} is inside the pod CIDR ({pools}): forwarded to a pod")
            for hep in ev.ingress_groups():
                if hep is None:
                    continue
                for cls in ev.source_classes(sources, ev.policies_for_hep(hep)):
                    pkt = Packet(
                        ev.outside_peer(representative(cls)),
                        Peer("pod", dst_ip, IPSet([str(dst_ip)]), text=str(dst_ip)),
                        port,
                        protocol,
                    )
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
