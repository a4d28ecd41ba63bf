"""CA005 invalid-ports: a port, port range or port name that Calico or Kubernetes rejects.

Covered fields (facts 1.5, 1.6, 1.8, 1.12, 3.4, 4.2): Calico rule ``ports``/``notPorts`` (syntax,
range, names, and the rule's ``protocol``), Kubernetes NetworkPolicy ``port``/``endPort``, Service
``port``/``targetPort``/``nodePort``, FelixConfiguration ``kubeNodePortRanges`` and failsafe ports,
HostEndpoint named ports.

The rule is a list of small per-kind sub-checks (``CA005/<kind>-<what>``), one helper module per area
(``rules/_ca005_*.py``); the engine dispatches each resource to the sub-checks of its kind.
"""

from __future__ import annotations

from auditor.catalog import Rule, SubCheck
from auditor.findings import Severity
from auditor.rules import _ca005_host, _ca005_policy, _ca005_service

SUB_CHECKS: tuple[SubCheck, ...] = (
    *_ca005_policy.SUB_CHECKS,
    *_ca005_service.SUB_CHECKS,
    *_ca005_host.SUB_CHECKS,
)

RULE = Rule(
    id="CA005",
    name="invalid-ports",
    title="A port, port range or port name that Calico or Kubernetes rejects",
    severity=Severity.ERROR,
    rationale=(
        "A bad port rejects the whole object, so the policy or Service is never applied. Calico port "
        'ranges use a colon: `"30000-32767"` is read as a port name and rejected because port names '
        "need a letter. Ports must lie within 1-65535 and ranges must not be reversed. Numeric ports "
        "need the rule's `protocol` to be TCP, UDP or SCTP (a rule without `protocol` matches ICMP too, "
        "which has no ports), and a rule whose protocol has no ports may not list any. Kubernetes "
        "rejects `nodePort` on ClusterIP Services, quoted numbers as port names, and `endPort` without a "
        "numeric `port`."
    ),
    remediation=(
        'Write ranges as `"min:max"` (quoted, colon). Add `protocol: TCP` (or UDP/SCTP) to rules that '
        "list numeric ports; remove ports from ICMP rules. Use lower-case port names of at most 15 "
        "characters with at least one letter, or unquoted numbers. Remove `nodePort` from ClusterIP "
        "Services or change the type to NodePort."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#ports",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-range-of-ports",
    ),
    sub_checks=SUB_CHECKS,
    tags=("structure", "validation", "ports"),
)
