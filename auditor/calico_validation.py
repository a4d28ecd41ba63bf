"""Small, named checks that mirror Calico's and Kubernetes' API validation.

Rules CA004 (invalid-cidr), CA005 (invalid-ports) and CA007 (rejected-by-calico) share these so
that every rejection is described once. Each function answers "would the API server / calicoctl
reject this value, and why?" with a short problem text (``None`` when the value is accepted).
Parsing itself lives in :mod:`auditor.nets` and :mod:`auditor.ports`; the functions here only
classify what those parsers reject so that messages can say how to fix it.

Sources: ``shared/design/calico-facts.md`` sections 1.1-1.13 and 4.2 (Calico
``libcalico-go/lib/validator/v3/validator.go``, ``clientv3/ippool.go``, CRD CEL rules;
Kubernetes ``pkg/apis/core/validation/validation.go`` and ``apimachinery/pkg/util/validation``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from auditor.k8snames import MAX_LABEL, MAX_SUBDOMAIN, NameFault, label_value_fault, qualified_name_fault
from auditor.k8snames import is_subdomain as is_subdomain  # re-exported: rules take it from here
from auditor.nets import NetError, parse_cidr, parse_ip
from auditor.ports import PROTOCOL_NUMBERS, to_int

# ------------------------------------------------------------------------------------------
# Names and labels (facts 1.1)
# ------------------------------------------------------------------------------------------

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + r")*"
_LABEL_RE = re.compile(f"^{_LABEL}$")
_SUBDOMAIN_RE = re.compile(f"^{_SUBDOMAIN}$")
_GNP_NAME_RE = re.compile(rf"^({_LABEL}\.)?{_LABEL}$")
_NP_NAME_RE = re.compile(rf"^(({_LABEL})(\.{_LABEL})?|((knp|ossg)\.default\.{_SUBDOMAIN}))$")
_CHARACTERS = "may only use letters, digits, '-', '_' and '.', and must start and end with a letter or digit"

GLOBAL_POLICY_KINDS = frozenset({"GlobalNetworkPolicy", "StagedGlobalNetworkPolicy"})
NAMESPACED_POLICY_KINDS = frozenset({"NetworkPolicy", "StagedNetworkPolicy"})


_PLACEHOLDER = re.compile(r"<[^<>]+>|\$\{[^}]*\}|\$[A-Za-z_]\w*|\{\{|^[A-Z][A-Z0-9_]{3,}$|\b([a-z])\.\1\.\1\.\1\b")

PLACEHOLDER_FIX = "substitute the real value for the placeholder (or render the template) before applying"


def looks_like_placeholder(text: str) -> bool:
    """``<node-name>``, ``${VM_IP}``, ``$NODE``, ``HOSTIP``, ``x.x.x.x/16``: a value meant to be replaced.

    Only used to word a message: the value is rejected either way.
    """
    return bool(_PLACEHOLDER.search(text.strip()))


def suggest_name(name: str, dots: int | None = None) -> str:
    """A lower-case name Calico accepts, close to ``name`` (at most ``dots`` dots when given)."""
    text = re.sub(r"[^a-z0-9.-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"-*\.-*", ".", text)
    text = re.sub(r"\.{2,}", ".", text)
    parts = [p.strip("-") for p in text.split(".")]
    parts = [p for p in parts if p] or ["policy"]
    if dots is not None and len(parts) > dots + 1:
        parts = [*parts[:dots], "-".join(parts[dots:])]
    return ".".join(parts)


def name_problem(kind: str, name: str) -> str | None:
    """Why Calico rejects ``name`` for a resource of ``kind`` (facts 1.1), or None."""
    problem = _name_problem(kind, name)
    if problem and looks_like_placeholder(name):
        return f"is an unfilled placeholder, and Calico rejects the name as written; {PLACEHOLDER_FIX}"
    return problem


def _name_problem(kind: str, name: str) -> str | None:
    if kind == "Tier":
        if len(name) > MAX_LABEL:
            return f"is {len(name)} characters long: Calico limits tier names to {MAX_LABEL}"
        if not _LABEL_RE.match(name):
            return (
                "is rejected by Calico: a tier name is a single DNS label (lower-case letters, digits and "
                f"'-', no dots); write `{suggest_name(name, dots=0)}`"
            )
        return None
    if len(name) > MAX_SUBDOMAIN:
        return f"is {len(name)} characters long: Calico limits names to {MAX_SUBDOMAIN}"
    if kind in GLOBAL_POLICY_KINDS:
        if not _GNP_NAME_RE.match(name):
            return (
                "is rejected by Calico: global policy names use lower-case letters, digits and '-', with at "
                f"most one dot (`tier.name`); write `{suggest_name(name, dots=1)}`"
            )
        return None
    if kind in NAMESPACED_POLICY_KINDS:
        if not _NP_NAME_RE.match(name):
            return (
                "is rejected by Calico: policy names use lower-case letters, digits and '-', with at most one "
                f"dot (`tier.name`); write `{suggest_name(name, dots=1)}`"
            )
        return None
    if not _SUBDOMAIN_RE.match(name):
        return (
            "is rejected by Calico: names use lower-case letters, digits, '-' and '.', starting and ending "
            f"with a letter or digit (no '_' or upper case); write `{suggest_name(name)}`"
        )
    return None


def label_key_problem(key: str) -> str | None:
    """Why Kubernetes' qualified-name check rejects a label key, or None."""
    fault = qualified_name_fault(key)
    if fault in (NameFault.LONG_PREFIX, NameFault.BAD_PREFIX):
        return f"has an invalid prefix `{key.partition('/')[0]}` (it must be a lower-case DNS subdomain)"
    if fault is NameFault.LONG_NAME:
        return f"has a name part of {len(key.rpartition('/')[2])} characters (at most {MAX_LABEL})"
    return _KEY_FAULTS.get(fault) if fault is not None else None


_KEY_FAULTS = {
    NameFault.SLASHES: "has more than one '/'",
    NameFault.EMPTY_PREFIX: "has an empty prefix before '/'",
    NameFault.EMPTY_NAME: "has an empty name part",
    NameFault.BAD_NAME: _CHARACTERS,
}


def label_value_problem(value: str) -> str | None:
    """Why Kubernetes rejects a label value, or None."""
    fault = label_value_fault(value)
    if fault is NameFault.LONG_NAME:
        return f"is {len(value)} characters long (at most {MAX_LABEL})"
    return _CHARACTERS if fault is not None else None


# ------------------------------------------------------------------------------------------
# Rule fields: action, protocol, selectors (facts 1.2, 1.5, 1.7)
# ------------------------------------------------------------------------------------------

ACTIONS = ("Allow", "Deny", "Log", "Pass")
_ACTION_SYNONYMS = {"accept": "Allow", "permit": "Allow", "drop": "Deny", "reject": "Deny", "block": "Deny"}


def suggest_action(value: str) -> str | None:
    """The action the author probably meant (``allow`` -> ``Allow``, ``drop`` -> ``Deny``)."""
    lowered = value.strip().lower()
    for action in ACTIONS:
        if action.lower() == lowered:
            return action
    return _ACTION_SYNONYMS.get(lowered)


def protocol_problem(value: Any) -> str | None:
    """Why Calico rejects a ``protocol``/``notProtocol`` value (numorstring.Protocol), or None.

    The text continues the value in a message: "protocol `tcp` <text>". Non-scalar values are
    type errors (CA002) and are not judged here.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    if isinstance(value, str) and value in PROTOCOL_NUMBERS:
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        if 1 <= to_int(text) <= 255:
            return None
        return "is outside 1-255: Calico rejects protocol numbers that are not IP protocols"
    for name in PROTOCOL_NUMBERS:
        if name.lower() == text.lower():
            return f"has the wrong case: Calico's protocol names are case-sensitive; write `{name}`"
    return f"is not a protocol Calico knows: use {', '.join(PROTOCOL_NUMBERS)} or a number 1-255"


def uses_global(text: str) -> bool:
    """Calico's own test for ``global()`` in a selector string: a plain substring search."""
    return "global(" in text


# ------------------------------------------------------------------------------------------
# HostEndpoint (facts 1.8)
# ------------------------------------------------------------------------------------------

_INTERFACE_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")


def interface_name_problem(name: str) -> str | None:
    if name == "*" or _INTERFACE_RE.match(name):
        return None
    if len(name) > 15:
        return f"is {len(name)} characters long (Linux interface names have at most 15)"
    return "may only contain letters, digits, '_', '.' and '-' (or be `*` for all interfaces)"


# ------------------------------------------------------------------------------------------
# Kubernetes port names (IANA_SVC_NAME; facts 1.6, 4.2)
# ------------------------------------------------------------------------------------------

_PORT_NAME_CHARS = re.compile(r"^[a-z0-9-]+$")


def port_name_problem(name: str) -> str | None:
    """Why ``name`` is not a Kubernetes port name (``validation.IsValidPortName``), or None."""
    if not name:
        return "is empty"
    if len(name) > 15:
        return f"is {len(name)} characters long (a port name has at most 15)"
    if not _PORT_NAME_CHARS.match(name):
        return "may only contain lower-case letters, digits and '-'"
    if not re.search("[a-z]", name):
        return "has no letter (a port name needs at least one)"
    if name.startswith("-") or name.endswith("-") or "--" in name:
        return "may not start or end with '-' or contain '--'"
    return None


# ------------------------------------------------------------------------------------------
# Networks and addresses (facts 1.5, 1.9-1.12, 4.2)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetProblem:
    """Why a network value was rejected, and what to write instead.

    ``kind``: ``bare-ip`` (an address without ``/prefix``), ``host-bits`` (not strictly masked),
    ``comment`` (an address followed by text, usually a YAML comment without ``#``) or ``invalid``.
    ``fix`` is the suggested replacement; ``host`` the single-address form (``1.2.3.4/32``).
    """

    kind: str
    fix: str = ""
    host: str = ""


def _host_cidr(text: str) -> str:
    addr = ipaddress.ip_address(text)
    return f"{addr}/{32 if addr.version == 4 else 128}"


def net_problem(raw: str, strict: bool, allow_bare_ip: bool) -> NetProblem | None:
    """Classify a network string the way the field's validator reads it (None: accepted)."""
    try:
        parse_cidr(raw, strict, allow_bare_ip)
        return None
    except NetError:
        pass
    text = raw.strip()
    try:
        addr = parse_ip(text)
        return NetProblem("bare-ip", fix=_host_cidr(str(addr)), host=_host_cidr(str(addr)))
    except NetError:
        pass
    try:
        network = parse_cidr(text, strict=False)
        interface = ipaddress.ip_interface(text)
        return NetProblem("host-bits", fix=str(network), host=_host_cidr(str(interface.ip)))
    except (NetError, ValueError):
        pass
    first = text.split()[0] if text.split() else ""
    if first and first != text:
        try:
            parse_cidr(first, strict=False, allow_bare_ip=True)
            return NetProblem("comment", fix=first)
        except NetError:
            pass
    return NetProblem("invalid")


def is_cidr_notation(raw: str) -> bool:
    """True for ``10.0.0.1/32``-style text: a valid network written where an address is expected."""
    if "/" not in raw:
        return False
    try:
        parse_cidr(raw, strict=False)
        return True
    except NetError:
        return False


def special_ip_problem(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Kubernetes' ``ValidateNonSpecialIP`` (Service externalIPs), or None."""
    if addr.is_unspecified:
        return "is the unspecified address"
    if addr.is_loopback:
        return "is a loopback address"
    if addr.is_link_local:
        return "is a link-local address (169.254.0.0/16, fe80::/10)"
    if isinstance(addr, ipaddress.IPv4Address):
        if addr in ipaddress.ip_network("224.0.0.0/24"):
            return "is a link-local multicast address (224.0.0.0/24)"
    elif addr.is_multicast and (addr.packed[1] & 0x0F) == 0x02:
        return "is a link-local multicast address (ff02::/16)"
    return None


# ------------------------------------------------------------------------------------------
# BGP, Felix and metadata value syntax (validator.go v3.32: processIPPort, isValidCommunity,
# validateKeyValueList, validateRegexp, the interface/prometheusHost regexes, annotation limits)
# ------------------------------------------------------------------------------------------

_IPV4_PORT_RE = re.compile(r"^(\d+).(\d+).(\d+).(\d+):(\d+)$")
_IPV6_PORT_RE = re.compile(r"^\[[0-9a-fA-F:.]+\]:(\d+)$")


def split_ip_port(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, str | None]:
    """Calico's ``IP``, ``IPv4:port`` or ``[IPv6]:port`` syntax (BGPPeer ``peerIP``): (address, problem)."""
    host = text
    if _IPV4_PORT_RE.match(text) or _IPV6_PORT_RE.match(text):
        host, _, port = text.rpartition(":")
        host = host.strip("[]")
        if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
            return None, f"has port `{port}` (a port is 1-65535)"
    try:
        return ipaddress.ip_address(host), None
    except ValueError:
        return None, "is not an IP address, `IPv4:port` or `[IPv6]:port`"


_STANDARD_COMMUNITY = re.compile(r"^(\d+):(\d+)$")
_LARGE_COMMUNITY = re.compile(r"^(\d+):(\d+):(\d+)$")


def community_problem(value: str) -> str | None:
    """Why ``value`` is not a BGP community (``aa:nn``, 16-bit parts) or large community (``aa:nn:mm``, 32-bit)."""
    match = _STANDARD_COMMUNITY.match(value) or _LARGE_COMMUNITY.match(value)
    if match is None:
        return "is not `aa:nn` or `aa:nn:mm`"
    bits = 16 if _STANDARD_COMMUNITY.match(value) else 32
    if any(int(part) >= 1 << bits for part in match.groups()):
        kind = "standard" if bits == 16 else "large"
        return f"has a part above {(1 << bits) - 1} (a {kind} community has {bits}-bit parts)"
    return None


_KEY_VALUE_ITEM = re.compile(r"^\s*(\w+)=(.*)$")


def key_value_list_problem(text: str) -> str | None:
    """``validateKeyValueList``: comma-separated ``key=value`` items (empty items allowed)."""
    for item in text.split(","):
        if item and not _KEY_VALUE_ITEM.match(item):
            return f"has the item `{item}`, which is not `key=value`"
    return None


_GO_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookaround assertions (`(?=`, `(?!`, `(?<=`, `(?<!`)"),
    (re.compile(r"\\[1-9]"), "backreferences (`\\1`)"),
    (re.compile(r"\(\?P=|\(\?\(|\(\?>"), "backreferences, conditionals or atomic groups"),
    (re.compile(r"[*+?}][+]"), "possessive quantifiers"),
)


def go_regexp_problem(pattern: str) -> str | None:
    """Why Go's ``regexp.Compile`` (RE2 syntax) would refuse ``pattern``, or None."""
    for unsupported, what in _GO_UNSUPPORTED:
        if unsupported.search(pattern):
            return f"uses {what}, which Go's RE2 syntax does not support"
    try:
        re.compile(pattern)
    except re.error as exc:
        if "global flags not at the start" in str(exc):
            return None  # Go accepts flag groups anywhere
        return f"is not a valid regular expression ({exc})"
    return None


IFACE_FILTER_RE = re.compile(r"^[a-zA-Z0-9:._+-]{1,15}$")  # iptables interface match syntax (`eth+`)
IGNORED_INTERFACE_RE = re.compile(r"^[a-zA-Z0-9_.*-]{1,15}$")
PROMETHEUS_HOST_RE = re.compile(r"^[a-zA-Z0-9:._+-]{1,64}$")
HEALTH_OVERRIDE_NAME_RE = re.compile(r"^[a-zA-Z0-9_ -]+$")
ANNOTATIONS_LIMIT = 256 * 1024  # bytes of keys and values together (validateObjectMetaAnnotations)


def annotation_key_problem(key: str) -> str | None:
    """Calico checks annotation keys as Kubernetes qualified names, after lower-casing them."""
    return label_key_problem(key.lower())


_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float | None:
    """A Go duration (``1m30s``, ``-5s``) in seconds, or None when it does not parse."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos or match.group(1) in ("", "."):
            return None
        total += float(match.group(1)) * _DURATION_SECONDS[match.group(2)]
        pos = match.end()
    return sign * total if pos == len(body) and pos else None
