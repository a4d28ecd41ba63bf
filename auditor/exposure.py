"""The exposure map: which outside sources reach which advertised Services, through which host endpoints.

Built from the evaluator's source classes; rendered as a Mermaid flowchart for the job summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.addrset import AddressSet
from auditor.engine import Context
from auditor.nets import describe
from auditor.packet.questions import Evaluator

MAX_SERVICES = 20


@dataclass
class Exposure:
    service: str  # "namespace/name"
    address: str  # "10.20.30.40:443/TCP"
    host_endpoints: str  # "node1-eth0 (+1)" or "(no HostEndpoint)"
    reaching: AddressSet
    everyone: bool  # every outside source reaches it


def exposures(ctx: Context) -> tuple[list[Exposure], int]:
    """Exposure of every advertised Service address and port (capped), and how many there were."""
    ev: Evaluator = ctx.packet.ev
    out: list[Exposure] = []
    addresses = ev.advertised_addresses()
    total = sum(len(a.service.ports) for a in addresses)
    for address in addresses:
        universe = ev.outside_universe(int(address.ip.version))
        for port in address.service.ports:
            if len(out) >= MAX_SERVICES:
                return out, total
            for group, hep in zip(ev.hep_groups or [[None]], ev.ingress_groups(), strict=True):
                reaching = AddressSet(int(address.ip.version))
                for cls in ev.reachability(address, port, hep):
                    if cls.reaches:
                        reaching |= cls.ips
                names = "(no HostEndpoint)" if hep is None else hep.name + (
                    f" (+{len(group) - 1})" if len(group) > 1 else ""
                )
                out.append(
                    Exposure(
                        service=f"{address.service.namespace}/{address.service.name}",
                        address=f"{address.ip}:{port.port}/{port.protocol}",
                        host_endpoints=names,
                        reaching=reaching,
                        everyone=reaching == universe,
                    )
                )
    return out, total


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def mermaid(items: list[Exposure]) -> str:
    lines = ["flowchart LR"]
    nodes: dict[str, str] = {}

    def node(kind: str, text: str) -> str:
        key = f"{kind}:{text}"
        if key not in nodes:
            nodes[key] = f"{kind}{len(nodes)}"
            shape = ("([", "])") if kind == "s" else ("[[", "]]") if kind == "h" else ("[", "]")
            lines.append(f"  {nodes[key]}{shape[0]}{_label(text)}{shape[1]}")
        return nodes[key]

    for item in items:
        target = node("v", f"{item.service} {item.address}")
        hep = node("h", item.host_endpoints)
        if not item.reaching:
            lines.append(f"  {hep} -. no outside source .-> {target}")
            continue
        who = "any outside source" if item.everyone else describe(item.reaching, limit=3)
        source = node("s", who)
        arrow = "==>" if item.everyone else "-->"
        lines.append(f"  {source} {arrow} {hep} --> {target}")
        if item.everyone:
            lines.append(f"  style {source} fill:#fdd,stroke:#c00")
    return "\n".join(lines)


def markdown_section(ctx: Context | None) -> str:
    if ctx is None:
        return ""
    items, total = exposures(ctx)
    if not items:
        return ""
    note = f"\n\nShowing {len(items)} of {total} advertised Service ports." if total > len(items) else ""
    return (
        "### Exposure map\n\nWhich outside sources reach the advertised Services, through which host endpoints "
        "(thick red: every outside source).\n\n```mermaid\n" + mermaid(items) + "\n```" + note + "\n"
    )
