"""The exposure map: which outside sources reach which advertised addresses and ports, through which
host endpoints, in which mode, with the witness flow; and the exposure diff of a change.

One builder (:func:`exposure_map`, on the packet questions) serves ``audit exposure`` (console, JSON,
Markdown), ``audit exposure --base REF`` (flows opened and closed against a git revision, read through
git without touching the working tree or the index) and the Mermaid map of the job summary.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from netaddr import IPAddress

from auditor.addrset import AddressSet
from auditor.config import Config
from auditor.context import Context
from auditor.engine import placed
from auditor.findings import Witness
from auditor.load import Limits, LoadResult, display_path, load, load_texts
from auditor.model import KNOWN_KINDS, HostEndpoint, ServicePort, build_model
from auditor.nets import describe
from auditor.packet.questions import AddressKind, Questions, ServiceAddress
from auditor.run import split_clusters

MAX_SERVICES = 20  # flows drawn in the job summary's Mermaid map
NO_HEP = "(no HostEndpoint)"


class ExposureError(ValueError):
    """The exposure diff cannot be computed (not a git repository, unknown revision)."""


@dataclass
class Flow:
    """Outside sources reaching one address and port through one group of host endpoints."""

    cluster: str  # "" when ``clusters`` is not configured
    service: str  # "namespace/name"
    how: str  # "cluster IP", "external IP", "load-balancer IP", "node port"
    destination: str  # the address clients connect to
    port: int  # the port clients connect to (the node port for node ports)
    protocol: str
    via: str  # the host endpoint the flow arrives through (a group's first), or NO_HEP
    host_endpoints: tuple[str, ...]  # every host endpoint of the group (treated alike); () without any
    mode: str  # "cluster" or "local" (externalTrafficPolicy)
    reaching: AddressSet
    everyone: bool  # every outside source reaches it
    witness: Witness | None = None
    description: str = ""  # the sources in words ("any outside address except 50.60.0.0/16")
    # What the flow was built from, for witnesses of the diff (not part of the output).
    address: ServiceAddress | None = field(default=None, repr=False, compare=False)
    service_port: ServicePort | None = field(default=None, repr=False, compare=False)
    hep: HostEndpoint | None = field(default=None, repr=False, compare=False)

    @property
    def target(self) -> str:
        return _target(self)

    @property
    def via_text(self) -> str:
        more = len(self.host_endpoints) - 1
        return self.via + (f" (+{more})" if more > 0 else "")

    def as_dict(self) -> dict[str, Any]:
        return _as_dict(self, self.reaching, everyone=self.everyone)


def _cidrs_text(ips: AddressSet) -> str:
    return ", ".join(str(c) for c in ips.iter_cidrs())


def _target(item: Flow | Change) -> str:
    dst = f"[{item.destination}]" if ":" in item.destination else item.destination
    return f"{dst}:{item.port}/{item.protocol}"


def _as_dict(item: Flow | Change, sources: AddressSet, **extra: Any) -> dict[str, Any]:
    """A flow or a change as JSON (``extra`` goes after ``description``)."""
    return {
        "cluster": item.cluster,
        "service": item.service,
        "how": item.how,
        "source": _cidrs_text(sources),
        "sources": [str(c) for c in sources.iter_cidrs()],
        "description": item.description,
        **extra,
        "destination": item.destination,
        "port": item.port,
        "protocol": item.protocol,
        "via": item.via,
        "host_endpoints": list(item.host_endpoints),
        "mode": item.mode,
        "witness": item.witness.as_dict() if item.witness is not None else None,
    }


def _placed(witness: Witness | None) -> Witness | None:
    """The witness with its steps placed at file:line:col (as findings carry them)."""
    return placed(witness) if witness is not None else None


def _targets(q: Questions) -> list[tuple[ServiceAddress, ServicePort, list[HostEndpoint | None]]]:
    """Every advertised Service address and port, and every node port on every host endpoint's expected IPs,
    with the host endpoint groups it is reached through."""
    ev = q.ev
    out: list[tuple[ServiceAddress, ServicePort, list[HostEndpoint | None]]] = []
    groups: list[list[HostEndpoint | None]] = [list(g) for g in ev.hep_groups] or [[None]]
    for address in ev.advertised_addresses():
        for port in address.service.ports:
            for group in groups:
                out.append((address, port, group))
    for svc in q.model.services:
        if svc.type not in ("NodePort", "LoadBalancer"):
            continue
        for port in svc.ports:
            if not port.node_port:
                continue
            for group in ev.hep_groups:
                for hep in group:
                    for ip in hep.valid_expected_ips:
                        path = (*port.path, "nodePort")
                        address = ServiceAddress(svc, IPAddress(str(ip)), AddressKind.NODE_PORT, path, True)
                        out.append((address, port, [hep]))
    return out


def exposure_map(q: Questions, cluster: str = "", limit: int | None = None, witnesses: bool = True) -> list[Flow]:
    """The flows of one model: per address, port and host endpoint group, the outside sources that reach it."""
    ev = q.ev
    out: list[Flow] = []
    for address, port, group in _targets(q):
        if limit is not None and len(out) >= limit:
            break
        hep = group[0]
        universe = ev.outside_universe(int(address.ip.version))
        reaching = AddressSet(int(address.ip.version))
        for cls in q.who_reaches(address, port, hep):
            if cls.reaches:
                reaching |= cls.ips
        witness = None
        if witnesses:
            if reaching:
                witness = q.service_flow(address, port, hep, reaching, True)
            elif universe:
                witness = q.service_flow(address, port, hep, universe, False)
        svc = address.service
        out.append(
            Flow(
                cluster=cluster,
                service=f"{svc.namespace}/{svc.name}",
                how=address.how,
                destination=str(address.ip),
                port=q.dport(address, port),
                protocol=port.protocol,
                via=hep.name if hep is not None else NO_HEP,
                host_endpoints=tuple(h.name for h in group if h is not None),
                mode=q.mode_of(svc),
                reaching=reaching,
                everyone=bool(reaching) and reaching == universe,
                witness=_placed(witness),
                description=_who(reaching, universe),
                address=address,
                service_port=port,
                hep=hep,
            )
        )
    return out


def total_targets(q: Questions) -> int:
    return len(_targets(q))


# --- loading -------------------------------------------------------------------------------------------


@dataclass
class ClusterMap:
    name: str
    questions: Questions
    flows: list[Flow]


def maps_of(loaded: LoadResult, config: Config, witnesses: bool = True) -> list[ClusterMap]:
    """One map per cluster (one, named "", without ``clusters`` configured)."""
    out = []
    for name, part in split_clusters(loaded, config):
        q = Questions(build_model(part.resources, config.default_namespace), config)
        out.append(ClusterMap(name, q, exposure_map(q, cluster=name, witnesses=witnesses)))
    return out


def load_paths(paths: Sequence[str], config: Config, limits: Limits, stdin_name: str = "-") -> LoadResult:
    return load(paths, KNOWN_KINDS, exclude=config.exclude, limits=limits, stdin_name=stdin_name)


def _git(args: Sequence[str], cwd: str, stdin: bytes | None = None) -> bytes:
    try:
        run = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise ExposureError("--base needs git, and git is not installed") from None
    if run.returncode != 0:
        raise ExposureError(run.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
    return run.stdout


def read_revision(ref: str, paths: Sequence[str]) -> tuple[str, dict[str, bytes]]:
    """The files under ``paths`` as they are in revision ``ref``: (commit, display path -> bytes).

    Read with ``git ls-tree`` and ``git cat-file --batch``: no checkout, the working tree and the index
    are left alone. Symlinks and submodules of the revision are not followed."""
    if not ref or ref.startswith("-"):
        raise ExposureError(f"--base {ref!r}: not a revision")
    here = os.getcwd()
    try:
        top = os.path.realpath(_git(["rev-parse", "--show-toplevel"], here).decode("utf-8", "surrogateescape").strip())
    except ExposureError:
        raise ExposureError(f"--base {ref}: {here} is not inside a git repository") from None
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except ExposureError:
        raise ExposureError(f"--base {ref}: no such revision in the repository at {top}") from None
    sha = commit.decode().strip()
    specs = []
    for path in paths:
        if path == "-":
            raise ExposureError("--base cannot compare standard input with a revision; name files or folders")
        rel = os.path.relpath(os.path.realpath(path), top)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise ExposureError(f"--base {ref}: {path} is outside the git repository at {top}")
        specs.append(":(literal)" + rel.replace(os.sep, "/"))
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", sha, "--", *specs], top) if specs else b""
    blobs: list[tuple[str, str]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, obj = meta.split(b" ")
        if kind == b"blob" and mode in (b"100644", b"100755"):
            blobs.append((obj.decode(), name.decode("utf-8", "surrogateescape")))
    files: dict[str, bytes] = {}
    if blobs:
        data = _git(["cat-file", "--batch"], top, "".join(f"{obj}\n" for obj, _ in blobs).encode())
        at = 0
        for _, name in blobs:
            header_end = data.index(b"\n", at)
            size = int(data[at:header_end].split(b" ")[2])
            start = header_end + 1
            files[display_path(os.path.join(top, name))] = data[start : start + size]
            at = start + size + 1
    return sha, files


# --- the diff ------------------------------------------------------------------------------------------


@dataclass
class Change:
    """Sources that reach (opened) or no longer reach (closed) one destination through host endpoints."""

    cluster: str
    service: str
    how: str
    sources: AddressSet
    destination: str
    port: int
    protocol: str
    host_endpoints: tuple[str, ...]  # () without host endpoints
    mode: str
    witness: Witness | None
    description: str = ""  # the sources in words ("any outside address except 50.60.0.0/16")

    @property
    def via(self) -> str:
        return self.host_endpoints[0] if self.host_endpoints else NO_HEP

    @property
    def target(self) -> str:
        return _target(self)

    def as_dict(self) -> dict[str, Any]:
        return _as_dict(self, self.sources)


@dataclass
class ExposureDiff:
    base: str  # the revision as given
    commit: str  # the commit it names
    opened: list[Change]
    closed: list[Change]

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "commit": self.commit,
            "opened": [c.as_dict() for c in self.opened],
            "closed": [c.as_dict() for c in self.closed],
        }


Key = tuple[str, str, str, str, int, str, str, str]


def _keyed(maps: list[ClusterMap]) -> dict[Key, tuple[Flow, ClusterMap]]:
    """Flows by (cluster, service, how, destination, port, protocol, mode, host endpoint): a group of host
    endpoints is taken apart, so a change of grouping is no change of exposure."""
    out: dict[Key, tuple[Flow, ClusterMap]] = {}
    for cmap in maps:
        for flow in cmap.flows:
            for name in flow.host_endpoints or (NO_HEP,):
                key = (flow.cluster, flow.service, flow.how, flow.destination, flow.port, flow.protocol, flow.mode)
                key += (name,)
                if key in out:
                    out[key][0].reaching |= flow.reaching
                else:
                    out[key] = (replace(flow, reaching=AddressSet.of(flow.reaching.version, [flow.reaching])), cmap)
    return out


def _witness_for(cmap: ClusterMap, flow: Flow, hep_name: str, sources: AddressSet, allowed: bool) -> Witness | None:
    if flow.address is None or flow.service_port is None:
        return None
    hep = cmap.questions.host_endpoint(hep_name) if hep_name != NO_HEP else None
    if hep_name != NO_HEP and hep is None:
        hep = flow.hep
    return _placed(cmap.questions.service_flow(flow.address, flow.service_port, hep, sources, allowed))


def diff_maps(base: list[ClusterMap], head: list[ClusterMap], ref: str = "", commit: str = "") -> ExposureDiff:
    """Flows the change opens (sources that reach now and did not) and closes (the reverse), per key."""
    before, after = _keyed(base), _keyed(head)
    grouped: dict[tuple[bool, Key, AddressSet], list[str]] = {}
    for key in [*after, *(k for k in before if k not in after)]:
        now = after[key][0].reaching if key in after else None
        then = before[key][0].reaching if key in before else None
        version = (now if now is not None else then).version  # type: ignore[union-attr]
        now = now if now is not None else AddressSet(version)
        then = then if then is not None else AddressSet(version)
        for opened, delta in ((True, now - then), (False, then - now)):
            if delta:
                grouped.setdefault((opened, key[:7] + ("",), delta), []).append(key[7])
    opened: list[Change] = []
    closed: list[Change] = []
    for (is_open, short, delta), names in grouped.items():
        key = short[:7] + (names[0],)
        # Opened: the flow as it is now, allowed. Closed: the flow now denied (or, when the destination is
        # gone, the flow the base allowed).
        flow, cmap = after[key] if key in after else before[key]
        witness = _witness_for(cmap, flow, names[0], delta, is_open or key not in after)
        change = Change(
            cluster=flow.cluster,
            service=flow.service,
            how=flow.how,
            sources=delta,
            destination=flow.destination,
            port=flow.port,
            protocol=flow.protocol,
            host_endpoints=tuple(n for n in names if n != NO_HEP),
            mode=flow.mode,
            witness=witness,
            description=_who(delta, cmap.questions.ev.outside_universe(delta.version)),
        )
        (opened if is_open else closed).append(change)
    return ExposureDiff(ref, commit, opened, closed)


def exposure_diff(
    ref: str, paths: Sequence[str], config: Config, limits: Limits, head: list[ClusterMap] | None = None
) -> ExposureDiff:
    """The working tree's exposure compared with revision ``ref``'s (the same paths and configuration)."""
    commit, files = read_revision(ref, paths)
    base_load = load_texts(files, KNOWN_KINDS, exclude=config.exclude, limits=limits)
    base = maps_of(base_load, config, witnesses=False)
    if head is None:
        head = maps_of(load_paths(paths, config, limits), config, witnesses=False)
    return diff_maps(base, head, ref, commit)


# --- rendering -----------------------------------------------------------------------------------------


def _who(ips: AddressSet, universe: AddressSet | None = None) -> str:
    if universe is not None and ips == universe:
        return "any outside source"
    return describe(ips, limit=3, universe=universe) if ips else "no outside source"


def render_map(maps: list[ClusterMap], fmt: str) -> str:
    flows = [f for m in maps for f in m.flows]
    if fmt == "json":
        return json.dumps({"flows": [f.as_dict() for f in flows]}, indent=2) + "\n"
    if fmt == "markdown":
        return markdown_map(maps)
    lines: list[str] = []
    for cmap in maps:
        if cmap.name:
            lines.append(f"== cluster {cmap.name} ==")
        if not cmap.flows:
            lines.append("no advertised Service address or node port: nothing is exposed to outside sources")
        for flow in cmap.flows:
            lines.append(
                f"{flow.target}  Service {flow.service} ({flow.how}, {flow.mode} mode) via {flow.via_text}: "
                f"{flow.description}"
            )
            if flow.witness is not None and flow.witness.command:
                lines.append(f"    {flow.witness.summary}  [{flow.witness.command}]")
        lines.append("")
    return "\n".join(lines)


def render_diff(diff: ExposureDiff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(diff.as_dict(), indent=2) + "\n"
    if fmt == "markdown":
        return markdown_diff(diff)
    short = diff.commit[:12]
    lines = [f"exposure against {diff.base} ({short}): {len(diff.opened)} opened, {len(diff.closed)} closed"]
    for word, changes in (("OPENED", diff.opened), ("CLOSED", diff.closed)):
        for c in changes:
            where = f" [cluster {c.cluster}]" if c.cluster else ""
            lines.append(
                f"{word}  {c.description} -> {c.target} "
                f"(Service {c.service}, {c.how}, {c.mode} mode) via {', '.join(c.host_endpoints) or NO_HEP}{where}"
            )
            if c.witness is not None:
                lines.append(f"    {c.witness.summary}" + (f"  [{c.witness.command}]" if c.witness.command else ""))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_diff(diff: ExposureDiff) -> str:
    head = f"### Exposure changes against `{diff.base}` ({diff.commit[:12]})\n\n"
    if not diff.opened and not diff.closed:
        return head + "No flow from outside is opened or closed.\n"
    rows = ["| Change | Sources | Destination | Service | Via | Mode | Witness |", "|" + " --- |" * 7]
    for word, changes in (("🔓 opened", diff.opened), ("🔒 closed", diff.closed)):
        for c in changes:
            service = f"{c.service} ({c.how})" + (f" [cluster {c.cluster}]" if c.cluster else "")
            witness = f"`{c.witness.command}`" if c.witness is not None and c.witness.command else ""
            rows.append(
                f"| {word} | {_md(c.description)} | `{c.target}` | {_md(service)} | "
                f"{_md(', '.join(c.host_endpoints) or NO_HEP)} | {c.mode} | {_md(witness)} |"
            )
    summary = f"{len(diff.opened)} opened, {len(diff.closed)} closed.\n\n"
    return head + summary + "\n".join(rows) + "\n"


def markdown_map(maps: list[ClusterMap]) -> str:
    out = []
    for cmap in maps:
        title = f"### Exposure map{f' (cluster `{cmap.name}`)' if cmap.name else ''}\n\n"
        if not cmap.flows:
            out.append(title + "No advertised Service address or node port.\n")
            continue
        rows = ["| Destination | Service | Via | Mode | Sources |", "| --- | --- | --- | --- | --- |"]
        for f in cmap.flows:
            rows.append(
                f"| `{f.target}` | {_md(f'{f.service} ({f.how})')} | {_md(f.via_text)} | {f.mode} | "
                f"{_md(f.description)} |"
            )
        out.append(title + "\n".join(rows) + "\n")
    return "\n".join(out)


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def mermaid(flows: list[Flow]) -> str:
    lines = ["flowchart LR"]
    nodes: dict[str, str] = {}

    def node(kind: str, text: str) -> str:
        key = f"{kind}:{text}"
        if key not in nodes:
            nodes[key] = f"{kind}{len(nodes)}"
            shape = ("([", "])") if kind == "s" else ("[[", "]]") if kind == "h" else ("[", "]")
            lines.append(f"  {nodes[key]}{shape[0]}{_label(text)}{shape[1]}")
        return nodes[key]

    for item in flows:
        target = node("v", f"{item.service} {item.destination}:{item.port}/{item.protocol}")
        hep = node("h", item.via_text)
        if not item.reaching:
            lines.append(f"  {hep} -. no outside source .-> {target}")
            continue
        who = "any outside source" if item.everyone else describe(item.reaching.to_ipset(), limit=3)
        source = node("s", who)
        arrow = "==>" if item.everyone else "-->"
        lines.append(f"  {source} {arrow} {hep} --> {target}")
        if item.everyone:
            lines.append(f"  style {source} fill:#fdd,stroke:#c00")
    return "\n".join(lines)


def markdown_section(ctx: Context | None) -> str:
    """The job summary's Mermaid map (at most :data:`MAX_SERVICES` flows), from :func:`exposure_map`."""
    if ctx is None:
        return ""
    q = ctx.packet
    items = exposure_map(q, limit=MAX_SERVICES, witnesses=False)
    if not items:
        return ""
    total = total_targets(q)
    note = f"\n\nShowing {len(items)} of {total} exposed addresses and ports." if total > len(items) else ""
    return (
        "### Exposure map\n\nWhich outside sources reach the advertised Services, through which host endpoints "
        "(thick red: every outside source).\n\n```mermaid\n" + mermaid(items) + "\n```" + note + "\n"
    )
