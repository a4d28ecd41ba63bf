"""Reading a manifest's fields into the model: metadata, and :class:`Ref` s for selectors, CIDRs,
IP addresses, ports and protocols (a value that does not parse keeps its error)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netaddr import IPNetwork

from auditor import selector as sel
from auditor.findings import PathT
from auditor.load import RawResource
from auditor.model.resources import (
    CALICO_GROUPS,
    CALICO_NAMESPACED,
    K8S_CLUSTER_SCOPED,
    K8S_NAMESPACED,
    NS_LABEL,
    Memo,
    Ref,
    SelectorRef,
    as_dict,
    as_list,
    as_str,
    label_text,
    labels_of,
)
from auditor.nets import NetError, parse_cidr, parse_ip
from auditor.ports import PortError, PortRange, parse_port, protocol_number

# apiVersion, kind, name, namespace, labels, annotations
Meta = tuple[str, str, str, str | None, dict[str, str], dict[str, str]]


def meta_of(raw: RawResource, default_namespace: str) -> Meta:
    data = raw.data
    api = as_str(data.get("apiVersion")) or ""
    kind = as_str(data.get("kind")) or ""
    meta = as_dict(data.get("metadata"))
    name_value = meta.get("name")
    name = name_value if isinstance(name_value, str) else label_text(name_value) if name_value is not None else ""
    if api in CALICO_GROUPS:
        namespaced: bool | None = kind in CALICO_NAMESPACED
    elif kind in K8S_NAMESPACED:
        namespaced = True
    elif kind in K8S_CLUSTER_SCOPED:
        namespaced = False
    else:  # a kind we do not model: take the namespace as written
        namespaced = None
    ns_value = meta.get("namespace")
    namespace: str | None = None
    if namespaced or (namespaced is None and isinstance(ns_value, str) and ns_value):
        namespace = ns_value if isinstance(ns_value, str) and ns_value else default_namespace
    return api, kind, name, namespace, labels_of(meta.get("labels")), labels_of(meta.get("annotations"))


# ------------------------------------------------------------------------------------------
# Answers kept per distinct input: a repository repeats the same selector texts, ports lists, nets
# lists and scoping combinations in thousands of policies. Every value kept is immutable (frozen
# refs, tuples, selectors), so a kept answer is the answer computed again.
# ------------------------------------------------------------------------------------------

_SELECTOR_REFS: Memo[tuple[PathT, str], SelectorRef] = Memo()
_NET_REFS: Memo[tuple[Any, ...], tuple[Ref[IPNetwork], ...]] = Memo()
_PORT_REFS: Memo[tuple[Any, ...], tuple[Ref[PortRange | str], ...]] = Memo()
_SCOPED: Memo[tuple[sel.Selector, str, str], sel.Selector] = Memo()
_AND: Memo[tuple[sel.Selector, sel.Selector], sel.Selector] = Memo()
_EQUALS: Memo[tuple[str, str], sel.Selector] = Memo()
_ONE_OF: Memo[tuple[str, tuple[str, ...]], sel.Selector] = Memo()


def selector_and(left: sel.Selector, right: sel.Selector) -> sel.Selector:
    """``left.and_(right)``, kept per pair."""
    key = (left, right)
    found = _AND.get(key)
    if found is None:
        found = _AND.keep(key, left.and_(right))
    return found


def label_equals(key: str, value: str) -> sel.Selector:
    """``sel.equals(key, value)``, kept per pair (raises ValueError as it does)."""
    pair = (key, value)
    found = _EQUALS.get(pair)
    if found is None:
        found = _EQUALS.keep(pair, sel.equals(key, value))
    return found


def label_one_of(key: str, values: tuple[str, ...]) -> sel.Selector:
    """``sel.one_of(key, values)``, kept per key and values (raises ValueError as it does)."""
    pair = (key, values)
    found = _ONE_OF.get(pair)
    if found is None:
        found = _ONE_OF.keep(pair, sel.one_of(key, values))
    return found


def parse_selector_at(path: PathT, value: Any) -> SelectorRef | None:
    if value is None:
        return None
    if type(value) is str:
        key = (path, value)
        found = _SELECTOR_REFS.get(key)
        if found is not None:
            return found
    if not isinstance(value, str):
        return SelectorRef(path, str(value), None, sel.SelectorError("a selector must be a string", 0), False)
    try:
        ref = SelectorRef(path, value, sel.parse(value))
    except sel.SelectorError as exc:
        return SelectorRef(path, value, None, exc)  # (not kept: each ref has an error of its own)
    if type(value) is str:
        _SELECTOR_REFS.keep((path, value), ref)
    return ref


def _key_of(values: list[Any], kinds: tuple[type, ...]) -> tuple[Any, ...] | None:
    """``values`` as a key when every value's exact type is in ``kinds`` (then equal keys are equal
    values: ``1``, ``True`` and ``1.0`` never meet), else None."""
    for value in values:
        if type(value) not in kinds:
            return None
    return tuple(values)


def net_refs(path: PathT, values: Any, strict: bool = True, allow_bare_ip: bool = False) -> tuple[Ref[IPNetwork], ...]:
    items = as_list(values)
    if not items:
        return ()
    written = _key_of(items, (str,))
    if written is None:
        return _net_refs(path, items, strict, allow_bare_ip)
    key = (path, strict, allow_bare_ip, written)
    found = _NET_REFS.get(key)
    if found is None:
        found = _NET_REFS.keep(key, _net_refs(path, items, strict, allow_bare_ip))
    return found


def _net_refs(path: PathT, values: list[Any], strict: bool, allow_bare_ip: bool) -> tuple[Ref[IPNetwork], ...]:
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            out.append(Ref(path + (i,), value, None, f"{value!r} is not a CIDR string"))
            continue
        try:
            out.append(Ref(path + (i,), value, parse_cidr(value, strict, allow_bare_ip)))
        except NetError as exc:
            out.append(Ref(path + (i,), value, None, str(exc)))
    return tuple(out)


def ip_refs(path: PathT, values: Iterable[tuple[PathT, Any]]) -> tuple[Ref[Any], ...]:
    out = []
    for p, value in values:
        if not isinstance(value, str):
            out.append(Ref(path + p, value, None, f"{value!r} is not an IP address"))
            continue
        try:
            out.append(Ref(path + p, value, parse_ip(value)))
        except NetError as exc:
            out.append(Ref(path + p, value, None, str(exc)))
    return tuple(out)


def port_refs(path: PathT, values: Any) -> tuple[Ref[PortRange | str], ...]:
    items = as_list(values)
    if not items:
        return ()
    written = _key_of(items, (int, str))
    if written is None:
        return _port_refs(path, items)
    key = (path, written)
    found = _PORT_REFS.get(key)
    if found is None:
        found = _PORT_REFS.keep(key, _port_refs(path, items))
    return found


def _port_refs(path: PathT, values: list[Any]) -> tuple[Ref[PortRange | str], ...]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(Ref(path + (i,), value, parse_port(value)))
        except PortError as exc:
            out.append(Ref(path + (i,), value, None, str(exc)))
    return tuple(out)


def protocol_ref(path: PathT, value: Any) -> Ref[int] | None:
    if value is None:
        return None
    number = protocol_number(value)
    if number is None:
        return Ref(path, value, None, f"{value!r} is not a protocol Calico accepts")
    return Ref(path, value, number)


def scoped_selector(selector: sel.Selector, prefix: str, has_label: str) -> sel.Selector:
    """A namespace or service-account selector rewritten the way Calico stores it.

    Label keys get ``prefix`` (``pcns.``/``pcsa.``); ``all()`` becomes ``has(<has_label>)`` and
    ``global()`` becomes ``!has(projectcalico.org/namespace)`` (non-namespaced objects).
    """
    key = (selector, prefix, has_label)
    found = _SCOPED.get(key)
    if found is None:
        scoped = selector.prefixed(prefix).replace_functions(
            all_with=sel.has(has_label), global_with=sel.has(NS_LABEL).negate()
        )
        found = _SCOPED.keep(key, scoped)
    return found


def simple_resource(cls: type[Any], raw: RawResource, meta: Meta, **fields: Any) -> Any:
    api, kind, name, namespace, labels, annotations = meta
    return cls(
        raw=raw,
        api_version=api,
        kind=kind,
        name=name,
        namespace=namespace,
        labels=labels,
        annotations=annotations,
        **fields,
    )


def cidr_items(path: PathT, value: Any) -> tuple[Ref[IPNetwork], ...]:
    out = []
    for i, item in enumerate(as_list(value)):
        cidr = as_dict(item).get("cidr")
        refs = net_refs(path + (i,), [cidr])
        out.extend(Ref(path + (i, "cidr"), r.raw, r.value, r.error) for r in refs)
    return tuple(out)
