"""CA007 sub-checks on every Calico resource's metadata: names, labels and annotations (facts 1.1, 1.9)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Issue, PathT, SubCheck
from auditor.calico_validation import (
    ANNOTATIONS_LIMIT,
    annotation_key_problem,
    label_key_problem,
    label_value_problem,
    name_problem,
)
from auditor.model import NS_LABEL, NetworkSet, Resource, as_dict, as_list
from auditor.rules._ca007_common import ALL, issue


def _invalid_name(resource: Resource) -> Iterator[Issue]:
    name = as_dict(resource.data.get("metadata")).get("name")
    if not isinstance(name, str) or not name:
        return  # missing or non-string names are schema errors (CA002)
    why = name_problem(resource.kind, name)
    if why:
        yield issue(resource, f"{resource.kind} name `{name}` {why}", ("metadata", "name"))


def _invalid_labels(resource: Resource) -> Iterator[Issue]:
    labels = as_dict(as_dict(resource.data.get("metadata")).get("labels"))
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        why = label_key_problem(key)
        if why:
            yield issue(
                resource,
                f"label key `{key}` {why}: Calico rejects labels that are not Kubernetes qualified names",
                ("metadata", "labels", key),
                on_key=True,
            )
        if isinstance(value, str):
            why = label_value_problem(value)
            if why:
                yield issue(
                    resource,
                    f"label value `{value}` {why}: Calico rejects invalid label values",
                    ("metadata", "labels", key),
                )


def _network_set_namespace_label(netset: NetworkSet) -> Iterator[Issue]:
    labels = as_dict(as_dict(netset.data.get("metadata")).get("labels"))
    if NS_LABEL in labels:
        yield issue(
            netset,
            f"`{NS_LABEL}` is reserved: Calico sets it on namespaced objects itself and rejects it on a "
            f"{netset.kind}; select the set by another label, or use `namespaceSelector` in rules",
            ("metadata", "labels", NS_LABEL),
            on_key=True,
        )



def _annotations(resource: Resource) -> Iterator[Issue]:
    """Annotation keys are qualified names (checked lower-cased); keys and values total at most 256 KiB.

    Calico checks the resource's annotations and those of each policy rule's ``metadata``.
    """
    yield from _annotation_map(resource, ("metadata", "annotations"))
    for direction in ("ingress", "egress"):
        for i, rule in enumerate(as_list(resource.spec.get(direction))):
            meta = as_dict(as_dict(rule).get("metadata"))
            if "annotations" in meta:
                yield from _annotation_map(resource, ("spec", direction, i, "metadata", "annotations"))


def _annotation_map(resource: Resource, path: PathT) -> Iterator[Issue]:
    node: object = resource.data
    for part in path:
        if isinstance(part, int):
            items = as_list(node)
            node = items[part] if part < len(items) else None
        else:
            node = as_dict(node).get(part)
    annotations = as_dict(node)
    total = 0
    for key, value in annotations.items():
        if not isinstance(key, str):
            continue
        why = annotation_key_problem(key)
        if why:
            yield issue(
                resource,
                f"annotation key `{key}` {why}: Calico rejects annotation keys that are not Kubernetes qualified "
                "names",
                (*path, key),
                on_key=True,
            )
        total += len(key.encode("utf-8", "surrogateescape"))
        if isinstance(value, str):
            total += len(value.encode("utf-8", "surrogateescape"))
    if total > ANNOTATIONS_LIMIT:
        yield issue(
            resource,
            f"annotations total {total:,} bytes: Calico rejects more than {ANNOTATIONS_LIMIT:,} bytes (256 KiB) of "
            "keys and values; move large data elsewhere (a ConfigMap)",
            path,
            on_key=True,
        )


SUB_CHECKS = (
    SubCheck("CA007/metadata-name", ALL, "names Calico refuses for the kind", _invalid_name),
    SubCheck("CA007/metadata-labels", ALL, "label keys and values that are not Kubernetes labels", _invalid_labels),
    SubCheck("CA007/metadata-annotations", ALL, "annotation keys and the 256 KiB total", _annotations),
    SubCheck(
        "CA007/networkset-namespace-label",
        ("GlobalNetworkSet", "NetworkSet"),
        "the reserved namespace label on a network set",
        _network_set_namespace_label,
    ),
)
