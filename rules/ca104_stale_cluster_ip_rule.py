"""CA104 stale-cluster-ip-rule: a host rule aimed at a cluster IP that no Service has."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import Example, Rule
from auditor.engine import Context
from auditor.findings import Issue, Severity
from auditor.packet.questions import evaluator
from auditor.rules._fixtures import CLUSTER, SVC_A

RULE = Rule(
    id="CA104",
    name="stale-cluster-ip-rule",
    title="A host-endpoint rule targets a single advertised address that is no Service's cluster IP",
    severity=Severity.WARNING,
    rationale=(
        "Cluster-mode policy names Services by their cluster IPs. When a Service is deleted or re-addressed, "
        "the rule that allowed its clients stays behind; if a new Service later receives that address, the old "
        "clients reach it without anyone having decided so."
    ),
    remediation=(
        "Remove the rule, or point it at the Service's current `spec.clusterIP`. Keep each Service's allow "
        "rule next to the Service (same folder or file) so they change together."
    ),
    tags=("cluster-mode", "hygiene"),
    examples=(
        Example(
            title="a rule for 10.20.30.99, which no Service has",
            files={
                "cluster.yaml": CLUSTER,
                "svc.yaml": SVC_A,
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    source:
      nets: [50.60.0.0/16]
    destination:
      nets: [10.20.30.40/32, 10.20.30.99/32]
""",
            },
            expect=("policy.yaml:14:30",),
        ),
        Example(
            title="every rule names a current cluster IP",
            files={
                "cluster.yaml": CLUSTER,
                "svc.yaml": SVC_A,
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    source:
      nets: [50.60.0.0/16]
    destination:
      nets: [10.20.30.40/32]
""",
            },
        ),
    ),
)


def check(ctx: Context) -> Iterator[Issue]:
    ev = evaluator(ctx)
    advertised = ev.facts.advertised
    if not advertised or not any(a.advertised for a in ev.service_addresses):
        return  # the repository does not manage the Services: it cannot know which addresses are current
    for policy in ev.host_policies:
        if not ev.is_host_policy(policy):
            continue
        for rule in policy.ingress:
            for ref in rule.destination.nets:
                net = ref.value
                if net is None or net.size != 1 or net.ip not in advertised or net.ip in ev.explicit_ips:
                    continue
                if any(net.ip == ip for hep in ev.host_endpoints for ip in hep.valid_expected_ips):
                    continue
                yield Issue(
                    message=(
                        f"{policy.display} {rule.label} targets {net}, an advertised address that is the cluster "
                        "IP of no Service in the repository: a stale rule, or one waiting for the next Service "
                        "to be given this address. Remove it or point it at the Service's current clusterIP"
                    ),
                    at=policy.ptr_at(ref.path),
                    identity=policy.identity,
                    key=str(net),
                )
