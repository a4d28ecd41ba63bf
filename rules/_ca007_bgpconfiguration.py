"""CA007 sub-checks on BGPConfiguration (facts 1.10; v3.32 ``validateBGPConfigurationSpec`` and CEL rules).

Names other than ``default``/``node.<name>``; mesh password or restart time with the mesh disabled;
``ignoredInterfaces`` entries (no ``*`` alone); community values and their use in
``prefixAdvertisements``; the local workload peering addresses; the case of ``logSeverityScreen``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from auditor.calico_validation import IGNORED_INTERFACE_RE, community_problem, is_subdomain
from auditor.catalog import SubCheck
from auditor.findings import Issue, Related, Severity
from auditor.model import BGPConfiguration, Resource, as_dict, as_list
from auditor.nets import NetError, parse_cidr
from auditor.rules._ca007_common import cidr_issue, issue, lower_case_value

_BGP = ("BGPConfiguration",)
LOG_LEVELS = ("Trace", "Debug", "Info", "Warning", "Error", "Fatal")


def _bgp_configuration_name(config: BGPConfiguration) -> Iterator[Issue]:
    name = config.name
    if not name or name == "default" or (name.startswith("node.") and len(name) > len("node.")):
        return
    yield issue(
        config,
        f"BGPConfiguration `{name}` is ignored: Calico reads only `default` (cluster-wide, including the "
        "service IP ranges) and `node.<node-name>` (per node); rename it to `default`",
        ("metadata", "name"),
        severity=Severity.WARNING,
    )


def _node_mesh(config: Resource) -> Iterator[Issue]:
    spec = config.spec
    if spec.get("nodeToNodeMeshEnabled") is not False:
        return
    for key in ("nodeMeshPassword", "nodeMeshMaxRestartTime"):
        if spec.get(key) is not None:
            yield issue(
                config,
                f"`{key}` with `nodeToNodeMeshEnabled: false`: it configures the node-to-node mesh, so Calico "
                "rejects it while the mesh is disabled; remove it (set passwords and restart times on BGPPeers)",
                ("spec", key),
                on_key=True,
                related=(Related(config.ptr("spec", "nodeToNodeMeshEnabled"), "nodeToNodeMeshEnabled"),),
            )


def _ignored_interfaces(config: Resource) -> Iterator[Issue]:
    for i, name in enumerate(as_list(config.spec.get("ignoredInterfaces"))):
        if not isinstance(name, str):
            continue
        if name == "*":
            why = "would ignore every interface, so Calico rejects it"
        elif not IGNORED_INTERFACE_RE.match(name):
            why = "is not an interface name or pattern (1-15 letters, digits, '_', '.', '-' or '*')"
        else:
            continue
        yield issue(config, f"ignoredInterfaces entry `{name}` {why}", ("spec", "ignoredInterfaces", i))


def _communities(config: Resource) -> Iterator[Issue]:
    spec = config.spec
    communities = as_list(spec.get("communities"))
    for i, item in enumerate(communities):
        entry = as_dict(item)
        value, name = entry.get("value"), entry.get("name")
        if isinstance(item, dict):
            yield from _community_fields(config, i, entry)
        if isinstance(value, str):
            why = community_problem(value)
            if why and "not `aa:nn`" not in why:  # the format itself is the schema's (CA002)
                at = ("spec", "communities", i, "value")
                yield issue(config, f"community `{value}` {why}: Calico rejects it", at)
        if isinstance(name, str) and name and not is_subdomain(name):
            yield issue(
                config,
                f"community name `{name}` is not a valid name (lower-case letters, digits, '-', '.'): Calico "
                "rejects it",
                ("spec", "communities", i, "name"),
            )
    if communities and not as_list(spec.get("prefixAdvertisements")):
        yield issue(
            config,
            "`communities` defined but no `prefixAdvertisements` use them: Calico rejects unused communities; "
            "add `prefixAdvertisements` or remove `communities`",
            ("spec", "communities"),
            on_key=True,
        )


def _community_fields(config: Resource, i: int, entry: dict[str, object]) -> Iterator[Issue]:
    """A community needs both a name (prefixAdvertisements refer to it) and a value."""
    for key, fix in (
        ("name", "Add the `name` that prefixAdvertisements use to refer to it."),
        ("value", "Add the `value` (`aa:nn`, or `aa:nn:mm` for a large community)."),
    ):
        if entry.get(key) in (None, ""):
            yield issue(
                config,
                f"community without `{key}`: Calico rejects a community that lacks its {key}",
                ("spec", "communities", i),
                fix=fix,
            )


def _prefix_advertisement_fields(config: Resource, i: int, entry: dict[str, object]) -> Iterator[Issue]:
    """A prefix advertisement needs the `cidr` it applies to and its `communities` list."""
    at = ("spec", "prefixAdvertisements", i)
    if entry.get("cidr") in (None, ""):
        yield issue(
            config,
            "prefixAdvertisements entry without `cidr`: Calico cannot parse an empty CIDR and rejects it",
            at,
            fix="Add the `cidr` the communities are attached to.",
        )
    if entry.get("communities") is None:
        yield issue(
            config,
            "prefixAdvertisements entry without `communities`: Calico requires the communities to advertise",
            at,
            fix="Add `communities` (values or names from `communities`), or remove the entry.",
        )


def _prefix_advertisements(config: Resource) -> Iterator[Issue]:
    spec = config.spec
    names = {n for c in as_list(spec.get("communities")) if isinstance(n := as_dict(c).get("name"), str)}
    for i, item in enumerate(as_list(spec.get("prefixAdvertisements"))):
        entry = as_dict(item)
        if isinstance(item, dict):
            yield from _prefix_advertisement_fields(config, i, entry)
        cidr = entry.get("cidr")
        if isinstance(cidr, str):
            try:
                parse_cidr(cidr, strict=True, allow_bare_ip=True)
            except NetError as exc:
                yield cidr_issue(config, "prefixAdvertisements cidr", exc, ("spec", "prefixAdvertisements", i, "cidr"))
        for j, community in enumerate(as_list(entry.get("communities"))):
            if not isinstance(community, str) or community in names:
                continue
            why = community_problem(community)
            if why is None:
                continue
            if "not `aa:nn`" in why:
                why = "is neither a community value (`aa:nn`, `aa:nn:mm`) nor the name of one in `communities`"
            yield issue(
                config,
                f"prefixAdvertisements community `{community}` {why}: Calico rejects it",
                ("spec", "prefixAdvertisements", i, "communities", j),
            )


def _local_workload_peering(config: Resource) -> Iterator[Issue]:
    for key, version in (("localWorkloadPeeringIPV4", 4), ("localWorkloadPeeringIPV6", 6)):
        value = config.spec.get(key)
        if not isinstance(value, str) or not value:
            continue
        try:
            ok = ipaddress.ip_address(value).version == version
        except ValueError:
            ok = False
        if not ok:
            yield issue(config, f"{key} `{value}` is not an IPv{version} address: Calico rejects it", ("spec", key))


def _log_severity(config: Resource) -> Iterator[Issue]:
    yield from lower_case_value(config, "logSeverityScreen", LOG_LEVELS)


SUB_CHECKS = (
    SubCheck(
        "CA007/bgpconfiguration-name", _BGP, "names other than `default` and `node.<name>`", _bgp_configuration_name
    ),
    SubCheck(
        "CA007/bgpconfiguration-node-mesh",
        _BGP,
        "mesh password or restart time with the mesh disabled",
        _node_mesh,
    ),
    SubCheck(
        "CA007/bgpconfiguration-ignored-interfaces", _BGP, "`ignoredInterfaces` entries", _ignored_interfaces
    ),
    SubCheck("CA007/bgpconfiguration-communities", _BGP, "community values, names and use", _communities),
    SubCheck(
        "CA007/bgpconfiguration-prefix-advertisements",
        _BGP,
        "prefixAdvertisements CIDRs and communities",
        _prefix_advertisements,
    ),
    SubCheck(
        "CA007/bgpconfiguration-local-workload-peering",
        _BGP,
        "local workload peering addresses",
        _local_workload_peering,
    ),
    SubCheck("CA007/bgpconfiguration-log-severity", _BGP, "case of `logSeverityScreen`", _log_severity),
)
