"""CA007 sub-checks on BGPPeer: field combinations Calico refuses and peer address syntax.

Calico v3.32's ``validateBGPPeerSpec`` (and the CEL rules of the BGPPeer CRD): ``node`` excludes
``nodeSelector``; ``peerSelector`` excludes ``peerIP`` and ``asNumber``; ``localWorkloadSelector``
needs ``asNumber`` and excludes ``peerIP`` and ``peerSelector``; ``keepOriginalNextHop: true`` excludes
``nextHopMode``; ``reachableBy`` needs a ``peerIP`` of the same IP family. ``peerIP`` is an address,
``IPv4:port`` or ``[IPv6]:port``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from auditor.api import Issue, Related, SubCheck
from auditor.calico_validation import split_ip_port
from auditor.model import Resource
from auditor.rules._ca007_common import issue

_PEER = ("BGPPeer",)


def _set(spec: dict[str, Any], key: str) -> bool:
    """Go's "not empty": a present, non-empty string (or a non-zero number)."""
    value = spec.get(key)
    return value not in (None, "", 0, False)


def _exclusive(peer: Resource, spec: dict[str, Any], key: str, other: str, why: str) -> Iterator[Issue]:
    if _set(spec, key) and _set(spec, other):
        yield issue(
            peer,
            f"`{key}` together with `{other}`: Calico rejects the BGPPeer ({why}); keep one of them",
            ("spec", key),
            on_key=True,
            related=(Related(peer.ptr("spec", other, on_key=True), other),),
        )


def _node_selection(peer: Resource) -> Iterator[Issue]:
    yield from _exclusive(
        peer, peer.spec, "node", "nodeSelector", "`node` names one node, `nodeSelector` selects several"
    )


def _peer_selection(peer: Resource) -> Iterator[Issue]:
    spec = peer.spec
    yield from _exclusive(peer, spec, "peerIP", "peerSelector", "a peer is an address or a selection of Calico nodes")
    yield from _exclusive(
        peer, spec, "asNumber", "peerSelector", "the selected Calico nodes bring their own AS numbers"
    )


def _local_workload(peer: Resource) -> Iterator[Issue]:
    spec = peer.spec
    if not _set(spec, "localWorkloadSelector"):
        return
    if not _set(spec, "asNumber"):
        yield issue(
            peer,
            "`localWorkloadSelector` without `asNumber`: Calico requires the local workloads' AS number; add "
            "`asNumber`",
            ("spec", "localWorkloadSelector"),
            on_key=True,
        )
    for other in ("peerIP", "peerSelector"):
        yield from _exclusive(
            peer, spec, other, "localWorkloadSelector", "a peering with local workloads has no other peer"
        )


def _next_hop(peer: Resource) -> Iterator[Issue]:
    spec = peer.spec
    if spec.get("keepOriginalNextHop") is True and spec.get("nextHopMode") is not None:
        yield issue(
            peer,
            "`keepOriginalNextHop: true` with `nextHopMode`: the deprecated field must not be true when "
            "`nextHopMode` is set, so Calico rejects the BGPPeer; use `nextHopMode: Keep` alone",
            ("spec", "keepOriginalNextHop"),
            related=(Related(peer.ptr("spec", "nextHopMode", on_key=True), "nextHopMode"),),
        )


def _peer_ip(peer: Resource) -> Iterator[Issue]:
    value = peer.spec.get("peerIP")
    if not isinstance(value, str) or not value:
        return
    _, why = split_ip_port(value)
    if why:
        yield issue(peer, f"peerIP `{value}` {why}: Calico rejects the BGPPeer", ("spec", "peerIP"))


def _reachable_by(peer: Resource) -> Iterator[Issue]:
    spec = peer.spec
    value = spec.get("reachableBy")
    if not isinstance(value, str) or not value:
        return
    at = ("spec", "reachableBy")
    try:
        gateway = ipaddress.ip_address(value)
    except ValueError:
        yield issue(peer, f"reachableBy `{value}` is not an IP address: Calico rejects the BGPPeer", at)
        return
    peer_ip = spec.get("peerIP")
    if not isinstance(peer_ip, str) or not peer_ip:
        yield issue(
            peer,
            "`reachableBy` without `peerIP`: the gateway is for reaching one peer address, so Calico rejects it; "
            "set `peerIP` or remove `reachableBy`",
            at,
            on_key=True,
        )
        return
    address, _ = split_ip_port(peer_ip)
    if address is not None and address.version != gateway.version:
        yield issue(
            peer,
            f"reachableBy `{value}` is IPv{gateway.version} but peerIP `{peer_ip}` is IPv{address.version}: "
            "Calico rejects a gateway of another address family",
            at,
            related=(Related(peer.ptr("spec", "peerIP"), "peerIP"),),
        )


_MODES = {
    "failureDetectionMode": ("None", "BFDIfDirectlyConnected"),
    "restartMode": ("GracefulRestart", "LongLivedGracefulRestart"),
    "birdGatewayMode": ("Recursive", "DirectIfDirectlyConnected"),
}


def _modes(peer: Resource) -> Iterator[Issue]:
    for key, allowed in _MODES.items():
        value = peer.spec.get(key)
        if isinstance(value, str) and value and value not in allowed:
            yield issue(
                peer,
                f"{key} `{value}` is not one of {', '.join(allowed)} (case-sensitive): Calico rejects the BGPPeer",
                ("spec", key),
            )


SUB_CHECKS = (
    SubCheck("CA007/bgppeer-node-selection", _PEER, "`node` with `nodeSelector`", _node_selection),
    SubCheck(
        "CA007/bgppeer-peer-selection", _PEER, "`peerSelector` with `peerIP` or `asNumber`", _peer_selection
    ),
    SubCheck(
        "CA007/bgppeer-local-workload",
        _PEER,
        "`localWorkloadSelector` without `asNumber`, or with `peerIP`/`peerSelector`",
        _local_workload,
    ),
    SubCheck("CA007/bgppeer-next-hop", _PEER, "`keepOriginalNextHop: true` with `nextHopMode`", _next_hop),
    SubCheck("CA007/bgppeer-peer-ip", _PEER, "`peerIP` syntax (IP, `IPv4:port`, `[IPv6]:port`)", _peer_ip),
    SubCheck(
        "CA007/bgppeer-reachable-by", _PEER, "`reachableBy` without `peerIP` or of another family", _reachable_by
    ),
    SubCheck("CA007/bgppeer-modes", _PEER, "failure detection, restart and gateway modes", _modes),
)
