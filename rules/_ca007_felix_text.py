"""CA007 sub-checks on FelixConfiguration text values (facts 1.12; v3.32 ``FelixConfigurationSpec`` tags).

Regular expressions (Go RE2), case-sensitive enumerations the v3.32 CRD accepts in any case, BPF
fields, health timeout overrides, the Prometheus host, the OpenStack region and the
``key=value`` lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.calico_validation import (
    HEALTH_OVERRIDE_NAME_RE,
    IFACE_FILTER_RE,
    PROMETHEUS_HOST_RE,
    duration_seconds,
    go_regexp_problem,
    interface_name_problem,
    key_value_list_problem,
)
from auditor.catalog import SubCheck
from auditor.findings import Issue
from auditor.model import Resource, as_dict, as_list
from auditor.nets import NetError, parse_cidr
from auditor.rules._ca007_bgpconfiguration import LOG_LEVELS
from auditor.rules._ca007_common import cidr_issue, issue, lower_case_value
from auditor.rules._ca007_felixconfiguration import FELIX

_REGEX_FIELDS = ("logDebugFilenameRegex", "bpfDataIfacePattern", "bpfL3IfacePattern", "bpfDisableGROForIfaces",
                 "mtuIfacePattern")

# Fields Calico v3.32 validates case-sensitively (validate tags) while the CRD pattern is ``(?i)``.
_CASE_SENSITIVE: dict[str, tuple[str, ...]] = {
    "iptablesFilterAllowAction": ("Accept", "Return"),
    "iptablesMangleAllowAction": ("Accept", "Return"),
    "nftablesFilterAllowAction": ("Accept", "Return"),
    "nftablesMangleAllowAction": ("Accept", "Return"),
    "iptablesFilterDenyAction": ("Drop", "Reject"),
    "nftablesFilterDenyAction": ("Drop", "Reject"),
    "serviceLoopPrevention": ("Drop", "Reject", "Disabled"),
    "workloadSourceSpoofing": ("Disabled", "Any"),
    "logSeverityFile": LOG_LEVELS,
    "logSeverityScreen": LOG_LEVELS,
    "logSeveritySys": LOG_LEVELS,
    "bpfLogLevel": ("Off", "Info", "Debug"),
    "bpfExternalServiceMode": ("Tunnel", "DSR"),
}
_OPENSTACK_REGION_MAX = 63 - len("openstack-region-")
_CONNTRACK_TIMEOUT = re.compile(r"^(([0-9]*(\.[0-9]*)?(ms|s|h|m|us)+)+|Auto)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _regexes(config: Resource) -> Iterator[Issue]:
    for key in _REGEX_FIELDS:
        value = config.spec.get(key)
        why = go_regexp_problem(value) if isinstance(value, str) and value else None
        if why:
            yield issue(config, f"{key} `{value}` {why}: Calico rejects it", ("spec", key))


def _value_case(config: Resource) -> Iterator[Issue]:
    for key, allowed in _CASE_SENSITIVE.items():
        yield from lower_case_value(config, key, allowed)


def _bpf(config: Resource) -> Iterator[Issue]:
    spec = config.spec
    for key in ("bpfDSROptoutCIDRs", "bpfExcludeCIDRsFromNAT"):
        for i, cidr in enumerate(as_list(spec.get(key))):
            if not isinstance(cidr, str):
                continue
            try:
                parse_cidr(cidr, strict=False, allow_bare_ip=True)
            except NetError as exc:
                yield cidr_issue(config, key, exc, ("spec", key, i))
    for i, name in enumerate(as_list(spec.get("bpfForceTrackPacketsFromIfaces"))):
        if isinstance(name, str) and not IFACE_FILTER_RE.match(name):
            yield issue(
                config,
                f"bpfForceTrackPacketsFromIfaces entry `{name}` is not an interface match (1-15 letters, digits and "
                "`:._+-`, `+` as wildcard): Calico rejects it",
                ("spec", "bpfForceTrackPacketsFromIfaces", i),
            )
    for timer, value in as_dict(spec.get("bpfConntrackTimeouts")).items():
        if isinstance(value, str) and not _CONNTRACK_TIMEOUT.match(value):
            yield issue(
                config,
                f"bpfConntrackTimeouts {timer} `{value}` is neither a duration (`30s`, `1h30m`) nor `Auto`: "
                "Calico rejects it",
                ("spec", "bpfConntrackTimeouts", timer),
            )
    for key in as_dict(spec.get("bpfLogFilters")):
        why = interface_name_problem(key) if isinstance(key, str) else None
        if why or key == "*":
            yield issue(
                config,
                f"bpfLogFilters key `{key}` is not an interface name (or `all`, `weps`, `heps`): Calico rejects it",
                ("spec", "bpfLogFilters", key),
                on_key=True,
            )


def _health_timeouts(config: Resource) -> Iterator[Issue]:
    for i, item in enumerate(as_list(config.spec.get("healthTimeoutOverrides"))):
        entry = as_dict(item)
        name, timeout = entry.get("name"), entry.get("timeout")
        if isinstance(name, str) and not HEALTH_OVERRIDE_NAME_RE.match(name):
            yield issue(
                config,
                f"healthTimeoutOverrides name `{name}` may only use letters, digits, '_', '-' and spaces: Calico "
                "rejects it",
                ("spec", "healthTimeoutOverrides", i, "name"),
            )
        seconds = duration_seconds(timeout) if isinstance(timeout, str) else None
        if seconds is not None and seconds < 0:
            yield issue(
                config,
                f"healthTimeoutOverrides timeout `{timeout}` is negative: Calico rejects it",
                ("spec", "healthTimeoutOverrides", i, "timeout"),
            )


def _prometheus_host(config: Resource) -> Iterator[Issue]:
    value = config.spec.get("prometheusMetricsHost")
    if isinstance(value, str) and value and not PROMETHEUS_HOST_RE.match(value):
        yield issue(
            config,
            f"prometheusMetricsHost `{value}` is not an address or host name (1-64 letters, digits and `:._+-`): "
            "Calico rejects it",
            ("spec", "prometheusMetricsHost"),
        )


def _openstack_region(config: Resource) -> Iterator[Issue]:
    value = config.spec.get("openstackRegion")
    if not isinstance(value, str) or not value:
        return
    if len(value) > _OPENSTACK_REGION_MAX:
        why = f"is {len(value)} characters long (at most {_OPENSTACK_REGION_MAX}, to fit a namespace name)"
    elif not _DNS_LABEL.match(value):
        why = "is not a DNS label (lower-case letters, digits and '-')"
    else:
        return
    yield issue(config, f"openstackRegion `{value}` {why}: Calico rejects it", ("spec", "openstackRegion"))


def _key_value_lists(config: Resource) -> Iterator[Issue]:
    for key in ("featureDetectOverride", "featureGates"):
        value = config.spec.get(key)
        why = key_value_list_problem(value) if isinstance(value, str) else None
        if why:
            yield issue(config, f"{key} `{value}` {why}: Calico rejects it", ("spec", key))


SUB_CHECKS = (
    SubCheck("CA007/felixconfiguration-regex", FELIX, "regular-expression fields (Go RE2)", _regexes),
    SubCheck(
        "CA007/felixconfiguration-value-case",
        FELIX,
        "values v3.32 compares case-sensitively (actions, log levels, BPF modes)",
        _value_case,
    ),
    SubCheck("CA007/felixconfiguration-bpf", FELIX, "BPF CIDR lists, interfaces and log filters", _bpf),
    SubCheck(
        "CA007/felixconfiguration-health-timeouts", FELIX, "healthTimeoutOverrides names and timeouts", _health_timeouts
    ),
    SubCheck("CA007/felixconfiguration-prometheus-host", FELIX, "prometheusMetricsHost syntax", _prometheus_host),
    SubCheck("CA007/felixconfiguration-openstack-region", FELIX, "openstackRegion as a DNS label", _openstack_region),
    SubCheck(
        "CA007/felixconfiguration-key-value-lists", FELIX, "featureDetectOverride and featureGates", _key_value_lists
    ),
)
