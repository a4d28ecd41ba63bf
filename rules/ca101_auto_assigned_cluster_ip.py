"""CA101 auto-assigned-cluster-ip: an advertised Service in cluster mode without a pinned cluster IP."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import AutoFix, Context, Edit, Issue, Related, Rule, Severity
from auditor.model import Service
from auditor.wording import guide, pin_cluster_ip

RULE = Rule(
    id="CA101",
    name="auto-assigned-cluster-ip",
    title="Advertised Service in cluster mode without an explicit spec.clusterIP",
    severity=Severity.ERROR,
    rationale=(
        "In cluster mode, access to an advertised cluster IP can only be restricted by host-endpoint policy "
        "that names the IP (guide step 2). When Kubernetes assigns the IP, no policy in the repository can "
        "name it, the IP changes when the Service is recreated, and outside clients reach the Service through "
        "the advertised range with nothing to stop them."
    ),
    remediation=(
        "Pin the cluster IP: set `spec.clusterIP` to a free address inside the advertised range and write "
        'the host-endpoint policy for it (guide step 1: "explicitly list the clusterIP; do not allow '
        'Kubernetes to automatically assign the clusterIP"). If the Service must never be reached from '
        "outside, a pre-DNAT Deny of the whole advertised range also settles it."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("cluster-mode", "exposure"),
    guide_step="Cluster mode, step 1",
    autofix="unsafe",
    autofix_text=(
        "sets `spec.clusterIP` of the Service to the advertised address a host policy rule already names, when "
        "exactly one such address is unheld and exactly one Service has no pinned cluster IP (the Service must "
        "be re-created for it to take effect)"
    ),
)


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    facts = ev.facts
    if not facts.advertised_cluster:
        return
    where = facts.advertisement
    bgp = facts.bgp
    refs = [r for r in (bgp.service_cluster_ips if bgp is not None else ()) if r.value is not None]
    if refs and all(r.value.size == 1 for r in refs):
        # Only single addresses are advertised: an auto-assigned IP lands on one of them only by chance.
        # What bites is an advertised address that no Service pins: whichever Service Kubernetes gives
        # it to (now, or after a re-creation) is exposed, and the route may point at nothing.
        assert bgp is not None
        for ref in refs if ctx.in_focus(bgp) else ():
            if ref.value.ip in ev.explicit_ips:
                continue
            yield Issue(
                message=(
                    f"serviceClusterIPs advertises {ref.value}, but no Service in the repository pins "
                    f"`spec.clusterIP: {ref.value.ip}`: the route leads to no Service the repository knows, and "
                    "Kubernetes decides which Service gets the address (now, or after a re-creation)"
                ),
                fix=pin_cluster_ip(ref.value.ip),
                at=bgp.ptr_at(ref.path),
                identity=bgp.identity,
                key=str(ref.value),
                severity=Severity.WARNING,
            )
        return
    unpinned = [s for s in ctx.focused(ctx.model.services) if s.cluster_mode and not s.cluster_ip_explicit and s.ports]
    unnamed = ev.unnamed_cluster_ip if unpinned else None
    if unnamed is None:
        return
    for service in unpinned:
        # Where Kubernetes may put the address: an advertised cluster IP that no rule and no Service names.
        # The claim is what the evaluator shows for an outside client there, pod policy included.
        witness = q.unpinned_exposure(service, unnamed)
        if witness is None:
            continue
        related = (Related(where.where, "cluster IPs advertised here"),) if where.where is not None else ()
        yield Issue(
            message=(
                f"{service.display} gets an auto-assigned cluster IP, but cluster IPs are advertised over BGP "
                f"({where.note}) and no policy can name an address it does not know: an outside client reaches "
                f"it wherever the address lands (e.g. {witness.flow_text} is allowed)"
            ),
            fix=(
                "Set `spec.clusterIP` to a fixed address in the advertised range and allow only the intended "
                f"clients with a preDNAT policy {guide('cluster', '1')}."
            ),
            at=service.ptr("spec", "clusterIP"),
            related=related,
            identity=service.identity,
            witness=witness,
            autofix=_pin_fix(ctx, service),
        )


def _pin_fix(ctx: Context, service: Service) -> AutoFix | None:
    """Unsafe fix: pin the one address the policies already name for the one Service without a pinned IP."""
    ev = ctx.packet.ev
    unpinned = [s for s in ctx.model.services if s.cluster_mode and not s.cluster_ip_explicit and s.ports]
    if unpinned != [service] or not isinstance(service.spec, dict) or "clusterIP" in service.spec:
        return None
    named = {
        ref.value.ip
        for policy in ev.host_policies
        for rule in policy.ingress
        for ref in rule.destination.nets
        if ref.value is not None and ref.value.size == 1
    }
    free = [ip for ip in named if ip in ev.facts.advertised_cluster and ip not in ev.explicit_ips]
    if len(free) != 1:
        return None
    return AutoFix(
        f"pin `spec.clusterIP: {free[0]}`, the advertised address the host policy names",
        (Edit("add-key", service.ptr("spec"), str(free[0]), key="clusterIP"),),
        safe=False,
    )
