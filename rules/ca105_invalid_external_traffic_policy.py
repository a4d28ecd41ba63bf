"""CA105 invalid-external-traffic-policy: `Local` where Kubernetes does not allow it."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Rule, Severity

RULE = Rule(
    id="CA105",
    name="invalid-external-traffic-policy",
    title="externalTrafficPolicy: Local on a Service that Kubernetes does not allow it on",
    severity=Severity.ERROR,
    rationale=(
        "Kubernetes accepts `externalTrafficPolicy` only on externally accessible Services: type NodePort, "
        "LoadBalancer, or ClusterIP with `externalIPs`. On a plain ClusterIP, headless or ExternalName Service "
        "the API server rejects the manifest, so the local mode the policies were written for never exists. "
        "The guide's table lists ClusterIP next to cluster mode only: local mode needs NodePort or LoadBalancer."
    ),
    remediation=(
        "Make the Service type NodePort or LoadBalancer (or give it `externalIPs`) to use local mode, or drop "
        "`externalTrafficPolicy: Local` and secure it in cluster mode (guide: cluster mode steps 1-5)."
    ),
    references=(
        "https://kubernetes.io/docs/reference/networking/virtual-ips/#external-traffic-policy",
        "https://docs.tigera.io/calico/latest/networking/configuring/advertise-service-ips",
    ),
    tags=("kubernetes", "local-mode"),
)


def _why_not(service: object) -> str:
    if service.type == "ExternalName":  # type: ignore[attr-defined]
        return "an ExternalName Service has no endpoints to keep local"
    if service.headless:  # type: ignore[attr-defined]
        return "a headless Service has no virtual IP to load-balance"
    return "a ClusterIP Service without `externalIPs` is not externally accessible"


def check(ctx: Context) -> Iterator[Issue]:
    for service in ctx.focused(ctx.model.services):
        if service.external_traffic_policy != "Local" or not service.external_traffic_policy_set:
            continue
        if service.externally_accessible and not service.headless:
            continue
        yield Issue(
            message=(
                f"`externalTrafficPolicy: Local` on {service.display} (type {service.type}) is rejected by "
                f"Kubernetes: {_why_not(service)}"
            ),
            fix=(
                "Use type NodePort or LoadBalancer for local mode, or remove the field and follow the cluster-mode "
                "steps."
            ),
            at=service.ptr("spec", "externalTrafficPolicy"),
            identity=service.identity,
        )
