"""``audit schemas --export DIR``: calico-audit's JSON Schemas in a form editors use while you type.

The target is the YAML language server (redhat ``yaml-language-server``: VS Code's YAML extension,
Neovim, JetBrains and others), which validates, completes and shows hover text from JSON Schemas
named in ``yaml.schemas`` or in a ``# yaml-language-server: $schema=...`` modeline.

What is written (all of it derived from the schemas in ``schemas/`` that rule CA002 uses):

``calico/<kind>.json``, ``kubernetes/<kind>.json``
    One self-contained schema per kind: every ``$ref`` is inlined, so a file works on its own
    (copied elsewhere, or named in a modeline). ``apiVersion`` and ``kind`` are required and pinned
    (``enum``/``const``), so a schema matches only its own kind; a Calico kind accepts both
    ``projectcalico.org/v3`` and ``crd.projectcalico.org/v1``.
``all.json``
    One schema for every kind: ``if`` a document's ``apiVersion`` and ``kind`` name a known kind,
    ``then`` it must match that kind's file (a relative ``$ref``); any other document, a
    ConfigMap say, is left alone, so it can be mapped to ``*.yaml``. A top-level list of
    resources (which calicoctl applies) and the ``items`` of a ``kind: List`` (or ``*List``) are
    checked item by item.
``catalog.json``
    ``{"combined": "all.json", "schemas": [{"apiVersion", "kind", "file", "title"}, ...]}``: which
    file checks which ``apiVersion``/``kind``.

The schemas are converted to JSON Schema draft-07: yaml-language-server has long validated draft-07
(its schema check is AJV's draft-07 metaschema), while 2019-09/2020-12 support came only in 1.20
(changelog: "Support JSON Schema 2019-09 and 2020-12", #478/#823), so older editor extensions would
misread them; and our schemas use nothing draft-07 lacks once ``$ref`` is inlined (in draft-07 a
``$ref`` hides its sibling keywords, which inlining sidesteps). The plain-language text the auditor keeps in
``x-`` keywords becomes what the language server shows: descriptions are also given as
``markdownDescription`` (they use Markdown code spans), ``x-expected`` becomes
``patternErrorMessage``, ``x-type-hint`` becomes ``errorMessage`` where the node checks nothing but
its type, and each ``x-unknown-field-hints`` entry becomes a forbidden property (``not: {}``) whose
``deprecationMessage`` says where the field belongs (``doNotSuggest`` keeps it out of completion;
``enum: []`` would be neater but the language server's metaschema check rejects an empty enum);
other unknown fields get the language server's "Property ... is not allowed".

Output is deterministic: exporting twice gives byte-identical files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor import schema as schemas
from auditor.schema import _expected_types

__all__ = ["DRAFT_07", "ExportResult", "editor_schema", "export"]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
COMBINED = "all.json"
CATALOG = "catalog.json"

# Keywords whose value is one schema, a list of schemas, or a mapping of names to schemas.
_ONE_SCHEMA = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties")
# Source keywords that are turned into editor keywords (and not copied).
_CONVERTED = frozenset({"x-expected", "x-type-hint", "x-unknown-field-hints"})
_DROPPED = frozenset({"$schema", "$id", "$defs"})
# Validation keywords a node can have and still take a single `errorMessage` for its type check.
_TYPE_ONLY = frozenset({"type", "items", "properties"})
_ANNOTATIONS = frozenset({"title", "description", "markdownDescription", "default", "examples", "$comment"})


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :func:`export` wrote: paths relative to the export folder, in writing order."""

    directory: Path
    files: tuple[str, ...]
    kinds: tuple[tuple[str, str], ...]


def _convert(node: Any) -> Any:
    """One schema node converted for editors (see the module docstring); recursive on subschemas only."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key in _CONVERTED:
            continue
        if key in _ONE_SCHEMA:
            out[key] = _convert(value)
        elif key in _SCHEMA_LISTS:
            out[key] = [_convert(item) for item in value]
        elif key in _SCHEMA_MAPS:
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        else:
            out[key] = value
        if key == "description" and isinstance(value, str):
            out["markdownDescription"] = value

    expected = node.get("x-expected")
    if expected and "pattern" in node:
        out["patternErrorMessage"] = f"Expected {expected}."
    hint = node.get("x-type-hint")
    own = {k for k in node if k not in _ANNOTATIONS and not k.startswith(("x-", "$"))}
    if hint and "type" in node and own <= _TYPE_ONLY:
        out["errorMessage"] = f"Expected {_expected_types(node['type'])}: {hint}."

    if "properties" in out:
        required = set(node.get("required", ()))
        out["properties"] = {
            name: sub if name in required else _nullable(sub) for name, sub in out["properties"].items()
        }

    hints: Mapping[str, str] = node.get("x-unknown-field-hints", {})
    if hints and node.get("additionalProperties") is False:
        properties = out.setdefault("properties", {})
        for field, text in hints.items():
            if field not in properties:
                message = f"Unknown field `{field}`: {text}."
                properties[field] = {
                    "description": message,
                    "markdownDescription": message,
                    "not": {},
                    "deprecationMessage": message,
                    "doNotSuggest": True,
                }
    return out


def _nullable(node: Any) -> Any:
    """``node`` also accepting null: an optional field written with no value is "not set" for calicoctl
    and for the Kubernetes API server (which prune nulls), and for rule CA002."""
    if not isinstance(node, dict) or not node:
        return node
    out = dict(node)
    if "type" in out:
        types = [out["type"]] if isinstance(out["type"], str) else list(out["type"])
        out["type"] = types if "null" in types else [*types, "null"]
    if "const" in out:
        out["enum"] = [out.pop("const"), None]
    elif "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if "anyOf" in out and "type" not in node:
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


def _api_versions(document: Mapping[str, Any]) -> list[str]:
    return [
        f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
        for gvk in document.get("x-kubernetes-group-version-kind", ())
    ]


def editor_schema(name: str) -> dict[str, Any]:
    """The editor schema for one schema file (``calico/globalnetworkpolicy.json``): inlined, draft-07, pinned."""
    source = schemas.resolved_schema(name)
    converted = _convert(source)
    kinds = sorted({gvk["kind"] for gvk in source.get("x-kubernetes-group-version-kind", ())})
    if len(kinds) != 1:
        raise ValueError(f"{name}: expected one kind in x-kubernetes-group-version-kind, got {kinds}")
    (kind,) = kinds
    versions = list(dict.fromkeys(_api_versions(source)))
    properties = converted.setdefault("properties", {})
    api_version = dict(properties.get("apiVersion", {}))
    for key in ("const", "enum", "$ref"):
        api_version.pop(key, None)
    api_version["type"] = "string"
    if len(versions) == 1:
        api_version["const"] = versions[0]
    else:
        api_version["enum"] = versions
    api_version.setdefault("description", f"`{'` or `'.join(versions)}`.")
    api_version.setdefault("markdownDescription", api_version["description"])
    kind_schema = {k: v for k, v in properties.get("kind", {}).items() if k not in ("const", "enum")}
    kind_schema.update({"type": "string", "const": kind})
    properties["apiVersion"] = api_version
    properties["kind"] = kind_schema
    required = ["apiVersion", "kind", *[r for r in converted.get("required", ()) if r not in ("apiVersion", "kind")]]
    converted["required"] = required
    return {"$schema": DRAFT_07, **converted}


def _combined(entries: list[tuple[str, list[str], str, str]]) -> dict[str, Any]:
    """The dispatching schema: ``if`` apiVersion+kind match an entry, ``then`` its file must match."""
    branches = []
    for kind, versions, file, _title in entries:
        branches.append(
            {
                "if": {
                    "type": "object",
                    "required": ["apiVersion", "kind"],
                    "properties": {"apiVersion": {"enum": versions}, "kind": {"const": kind}},
                },
                "then": {"$ref": file},
            }
        )
    branches.append(
        {
            "if": {
                "type": "object",
                "required": ["kind", "items"],
                "properties": {"kind": {"type": "string", "pattern": "List$"}, "items": {"type": "array"}},
            },
            "then": {"properties": {"items": {"items": {"$ref": "#"}}}},
        }
    )
    all_versions = sorted({v for _, versions, _, _ in entries for v in versions})
    all_kinds = sorted({kind for kind, _, _, _ in entries})
    return {
        "$schema": DRAFT_07,
        "title": "Kubernetes and Calico resources (calico-audit)",
        "description": "Checks every Calico kind and the Kubernetes kinds calico-audit reads, choosing the schema by "
        "`apiVersion` and `kind`; documents of other kinds are not checked.",
        "properties": {
            "apiVersion": {"type": "string", "description": f"Checked for: {', '.join(all_versions)}."},
            "kind": {"type": "string", "description": f"Checked for: {', '.join(all_kinds)}."},
        },
        "items": {"$ref": "#"},
        "allOf": branches,
    }


def _dump(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write(directory: Path, relative: str, data: bytes) -> None:
    target = directory / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.read_bytes() == data:
        return
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export(directory: str | os.PathLike[str]) -> ExportResult:
    """Write the editor schemas, ``all.json`` and ``catalog.json`` into ``directory`` (created if needed).

    Raises ``OSError`` when the folder cannot be created or written (for example, it is a file).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[tuple[str, str]]] = {}
    for (api_version, kind), name in schemas.kind_files().items():
        by_file.setdefault(name, []).append((api_version, kind))

    written: list[str] = []
    entries: list[tuple[str, list[str], str, str]] = []
    catalog: list[dict[str, str]] = []
    for name in sorted(by_file):
        document = editor_schema(name)
        _write(folder, name, _dump(document))
        written.append(name)
        kind = document["properties"]["kind"]["const"]
        api = document["properties"]["apiVersion"]
        versions = [api["const"]] if "const" in api else list(api["enum"])
        title = str(document.get("title", kind))
        entries.append((kind, versions, name, title))
        for api_version in versions:
            catalog.append({"apiVersion": api_version, "kind": kind, "file": name, "title": title})

    _write(folder, COMBINED, _dump(_combined(entries)))
    written.append(COMBINED)
    catalog.sort(key=lambda e: (e["apiVersion"], e["kind"]))
    index = {
        "description": "calico-audit editor schemas (JSON Schema draft-07): the file that checks each apiVersion "
        "and kind, relative to this catalog; `combined` checks them all.",
        "draft": DRAFT_07,
        "combined": COMBINED,
        "schemas": catalog,
    }
    _write(folder, CATALOG, _dump(index))
    written.append(CATALOG)
    return ExportResult(folder, tuple(written), tuple((e["apiVersion"], e["kind"]) for e in catalog))
