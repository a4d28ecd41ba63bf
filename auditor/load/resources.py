"""Resources inside documents: ``apiVersion`` + ``kind`` mappings, ``*List`` items, calicoctl's case folding."""

from __future__ import annotations

from typing import Any

from auditor.findings import PathT
from auditor.load.document import Document, RawResource

# Top-level fields of a Calico resource whose case calicoctl ignores (apiVersion and kind are read
# first, exactly, to pick the type; the typed decode that follows matches names case-insensitively).
_CASE_FOLDED = {"metadata": "metadata", "spec": "spec", "status": "status"}

_CALICOCTL_API = "projectcalico.org/v3"


def _is_resource(data: Any, known_kinds: frozenset[str]) -> bool:
    if not isinstance(data, dict):
        return False
    kind = data.get("kind")
    return isinstance(kind, str) and (isinstance(data.get("apiVersion"), str) or kind in known_kinds)


def _resource(doc: Document, base: PathT, data: dict[str, Any]) -> RawResource:
    """A resource, with top-level keys in another case renamed the way calicoctl reads them."""
    if data.get("apiVersion") != _CALICOCTL_API:
        return RawResource(doc, base, data)
    renamed: dict[str, str] = {}
    for key in data:
        real = _CASE_FOLDED.get(key.lower()) if isinstance(key, str) else None
        if real is not None and key != real and real not in data:
            renamed[real] = key  # several spellings: the last one wins, as in encoding/json
    if not renamed:
        return RawResource(doc, base, data)
    decoded: dict[str, Any] = {}
    for key, value in data.items():
        real = _CASE_FOLDED.get(key.lower()) if isinstance(key, str) else None
        if real not in renamed:
            decoded[key] = value
        elif renamed[real] == key:
            decoded[real] = value
    return RawResource(doc, base, decoded, written=data, renamed=renamed)


def resources_of(doc: Document, known_kinds: frozenset[str]) -> tuple[list[RawResource], bool]:
    """The resources a document holds, and whether it was one at all.

    A ``*List`` is expanded, and so is a top-level list of resources, which calicoctl applies
    like a ``List``.
    """
    data = doc.data
    if isinstance(data, list):
        out = [_resource(doc, (i,), item) for i, item in enumerate(data) if _is_resource(item, known_kinds)]
        return out, bool(out)
    if not _is_resource(data, known_kinds):
        return [], False
    items = data.get("items")
    if data["kind"].endswith("List") and isinstance(items, list):
        out = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("kind"), str):
                out.append(_resource(doc, ("items", i), item))
        return out, True
    return [_resource(doc, (), data)], True
