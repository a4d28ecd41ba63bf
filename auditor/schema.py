"""Structural validation of Kubernetes and Calico resources against calico-audit's JSON Schemas.

The schemas live in the top-level ``schemas/`` folder, shipped as the package ``auditor.schemas``
(``schemas/<group>/<kind>.json`` plus shared ``_defs.json`` files referenced with ``$ref``). Each
kind schema names the ``apiVersion``/``kind`` pairs it covers in ``x-kubernetes-group-version-kind``.

What the schemas check (rule CA002, "schema-violation"): unknown fields (calicoctl decodes Calico
resources strictly), wrong types, enum values where the API has an enum, missing required fields.
What they deliberately leave to other rules: selector syntax, CIDR validity, port values, rule
``action``/``protocol`` spelling, object names and cross-field rules.

Errors are turned into plain-language :class:`SchemaIssue` objects: one per path, sorted by path,
with "did you mean" suggestions for misspelt fields and one clear message for the classic mistake
of rules that ended up inside ``types`` because an ``ingress:`` key is missing.

Speed: each schema is compiled once into a jsonschema validator (with every ``$ref`` inlined) and
into a small closure-based checker that answers "valid?" for the JSON-Schema subset our schemas use.
Valid documents, the vast majority, never reach jsonschema; invalid ones are re-validated by
jsonschema to collect detailed errors. The two agree by construction and by test.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.findings import format_path

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from jsonschema import ValidationError

__all__ = ["SchemaIssue", "has_schema", "kind_files", "kinds", "resolved_schema", "schema_documents", "validate"]

PathPart = str | int


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One schema violation.

    ``path`` leads from the document root to the offending node (for a missing required field: to
    the mapping that lacks it). ``on_key`` is true when the finding should point at the key itself
    (an unknown field) rather than at its value.
    """

    path: tuple[PathPart, ...]
    message: str
    on_key: bool = False
    fix: str = ""  # what to do, when the violation has one plain remedy


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _schemas_root() -> Traversable:
    """The schema folder: the installed package ``auditor.schemas``, else ``schemas/`` of the source tree."""
    try:
        return resources.files("auditor.schemas")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "schemas"


def _read_documents() -> dict[str, dict[str, Any]]:
    """All schema documents, keyed by their path relative to the schema folder (``calico/tier.json``)."""
    root = _schemas_root()
    docs: dict[str, dict[str, Any]] = {}
    for group in sorted(root.iterdir(), key=lambda t: t.name):
        if not group.is_dir() or group.name.startswith(("_", ".")):
            continue
        for entry in sorted(group.iterdir(), key=lambda t: t.name):
            if entry.name.endswith(".json"):
                docs[f"{group.name}/{entry.name}"] = json.loads(entry.read_text(encoding="utf-8"))
    return docs


def schema_documents() -> dict[str, dict[str, Any]]:
    """The raw schema documents (for tests and documentation), keyed by relative path."""
    return {name: json.loads(json.dumps(doc)) for name, doc in _catalog().documents.items()}


def _inline(node: Any, base: str, docs: Mapping[str, Mapping[str, Any]], depth: int = 0) -> Any:
    """A copy of ``node`` with every ``$ref`` replaced by its target (our schemas are not recursive).

    Keywords next to a ``$ref`` (``description``, ``required``, an ``anyOf``...) are kept: the target's
    keywords are merged first and the referring node's own keywords win, which is exact for our
    schemas because they never repeat a validation keyword on both sides.
    """
    if depth > 64:
        raise ValueError(f"$ref chain too deep (recursive schema?) in {base}")
    if isinstance(node, list):
        return [_inline(item, base, docs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target_doc, _, fragment = node["$ref"].partition("#")
        name = _join(base, target_doc) if target_doc else base
        target: Any = docs[name]
        for part in fragment.strip("/").split("/"):
            if part:
                target = target[part]
        merged = dict(_inline(target, name, docs, depth + 1))
        for key, value in node.items():
            if key == "$ref":
                continue
            if key in merged and key not in _ANNOTATIONS:
                raise ValueError(f"{base}: keyword {key!r} both beside and inside {node['$ref']}")
            merged[key] = _inline(value, base, docs, depth)
        return merged
    return {key: _inline(value, base, docs, depth) for key, value in node.items()}


_ANNOTATIONS = frozenset({"description", "title", "x-hint", "x-type-hint", "x-expected", "$comment", "default"})


def _join(base: str, relative: str) -> str:
    parts = base.split("/")[:-1]
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


# --------------------------------------------------------------------------------------------
# The jsonschema validator class: Draft 2020-12 plus two YAML-aware tweaks
# --------------------------------------------------------------------------------------------


def _is_integer(checker: Any, instance: object) -> bool:
    # Go's JSON decoder rejects `80.0` for an integer field, so (unlike JSON Schema) an integral
    # float is not an integer here.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _required(
    validator: Any, required: Sequence[str], instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``required`` where a key whose value is null counts as missing (Go decodes null as the zero value)."""
    from jsonschema import ValidationError

    if not isinstance(instance, dict):
        return
    for prop in required:
        if instance.get(prop) is None:
            yield ValidationError(f"{prop!r} is a required property")


@functools.cache
def _validator_class() -> Any:
    """The jsonschema validator class, imported and built on first use: only an invalid document needs
    it (valid ones are answered by the fast checker), and importing jsonschema costs 60 ms."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    return extend(Draft202012Validator, validators={"required": _required}, type_checker=type_checker)


# --------------------------------------------------------------------------------------------
# The fast checker: compiles an inlined schema into nested closures that only answer valid/invalid
# --------------------------------------------------------------------------------------------

Check = Callable[[Any], bool]

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}

# Keywords the fast checker understands. Anything else in a schema makes compilation fail loudly,
# so a new keyword can never be silently ignored.
_FAST_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "additionalProperties",
        "required",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minimum",
        "maximum",
        "pattern",
        "anyOf",
        "minLength",
        "maxLength",
    }
)
_IGNORED_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "title",
        "description",
        "default",
        "$comment",
        "examples",
        "deprecated",
        "x-kubernetes-group-version-kind",
        "x-unknown-field-hints",
        "x-type-hint",
        "x-expected",
        "x-hint",
    }
)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema's ``enum``/``const``/``uniqueItems`` see it (``True`` != ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_json_equal, a, b))
    return bool(a == b)


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    unknown = set(schema) - _FAST_KEYWORDS - _IGNORED_KEYWORDS
    if unknown:
        raise ValueError(f"the fast checker does not support {sorted(unknown)}")
    checks: list[Check] = []

    types = schema.get("type")
    if types is not None:
        tests = [_TYPE_TESTS[t] for t in ([types] if isinstance(types, str) else types)]
        if len(tests) == 1:
            checks.append(tests[0])
        else:
            checks.append(lambda v, tests=tests: any(t(v) for t in tests))

    if "enum" in schema:
        allowed = list(schema["enum"])
        hashable = all(isinstance(x, str) for x in allowed)
        if hashable:
            allowed_set = frozenset(allowed)
            checks.append(lambda v: isinstance(v, str) and v in allowed_set)
        else:
            checks.append(lambda v: any(_json_equal(v, x) for x in allowed))
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda v: _json_equal(v, const))

    props = {k: _compile(s) for k, s in schema.get("properties", {}).items()}
    additional = schema.get("additionalProperties", True)
    required = tuple(schema.get("required", ()))
    if props or additional is not True or required:
        extra: Check | None = None if additional is False else _compile(additional)

        def check_object(v: Any, props: dict[str, Check] = props, extra: Check | None = extra) -> bool:
            if not isinstance(v, dict):
                return True
            for key, value in v.items():
                check = props.get(key)
                if check is None:
                    if extra is None:
                        return False
                    check = extra
                # A null value means "not set" (see _issues); only `required` cares about it.
                if value is not None and not check(value):
                    return False
            return all(v.get(r) is not None for r in required)

        checks.append(check_object)

    if "items" in schema or "minItems" in schema or "maxItems" in schema or schema.get("uniqueItems"):
        item = _compile(schema.get("items", True))
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", math.inf)
        unique = bool(schema.get("uniqueItems"))

        def check_array(v: Any) -> bool:
            if not isinstance(v, list):
                return True
            if not low <= len(v) <= high or not all(map(item, v)):
                return False
            if unique:
                for i, a in enumerate(v):
                    if any(_json_equal(a, b) for b in v[i + 1 :]):
                        return False
            return True

        checks.append(check_array)

    if "minimum" in schema or "maximum" in schema:
        lo = schema.get("minimum", -math.inf)
        hi = schema.get("maximum", math.inf)
        checks.append(lambda v: not _TYPE_TESTS["number"](v) or lo <= v <= hi)
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    if "minLength" in schema or "maxLength" in schema:
        lo_len = schema.get("minLength", 0)
        hi_len = schema.get("maxLength", math.inf)
        checks.append(lambda v: not isinstance(v, str) or lo_len <= len(v) <= hi_len)
    if "anyOf" in schema:
        branches = [_compile(s) for s in schema["anyOf"]]
        checks.append(lambda v: any(b(v) for b in branches))

    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass
class _Compiled:
    schema: dict[str, Any]
    fast: Check

    @functools.cached_property
    def validator(self) -> Any:
        """The jsonschema validator that collects the detailed errors of an invalid document."""
        return _validator_class()(self.schema)


class _Catalog:
    def __init__(self) -> None:
        self.documents = _read_documents()
        self.kinds: dict[tuple[str, str], str] = {}
        for name, doc in self.documents.items():
            for gvk in doc.get("x-kubernetes-group-version-kind", ()):
                api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                self.kinds[(api_version, gvk["kind"])] = name
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def resolved(self, name: str) -> dict[str, Any]:
        """The schema document ``name`` with every ``$ref`` inlined and ``$defs`` dropped (a new copy)."""
        schema: dict[str, Any] = _inline(self.documents[name], name, self.documents)
        schema.pop("$defs", None)
        return schema

    def compiled(self, name: str) -> _Compiled:
        found = self._compiled.get(name)
        if found is None:
            with self._lock:
                found = self._compiled.get(name)
                if found is None:
                    schema = self.resolved(name)
                    found = _Compiled(schema, _compile(schema))
                    self._compiled[name] = found
        return found


_CATALOG: _Catalog | None = None
_CATALOG_LOCK = threading.Lock()


def _catalog() -> _Catalog:
    global _CATALOG
    if _CATALOG is None:
        with _CATALOG_LOCK:
            if _CATALOG is None:
                _CATALOG = _Catalog()
    return _CATALOG


def kinds() -> list[tuple[str, str]]:
    """Every ``(apiVersion, kind)`` pair that has a schema, sorted."""
    return sorted(_catalog().kinds)


def kind_files() -> dict[tuple[str, str], str]:
    """Every ``(apiVersion, kind)`` pair with a schema, mapped to its file (``calico/tier.json``), sorted."""
    return dict(sorted(_catalog().kinds.items()))


def resolved_schema(name: str) -> dict[str, Any]:
    """A copy of the schema file ``name`` (a value of :func:`kind_files`) with every ``$ref`` inlined."""
    return _catalog().resolved(name)


def has_schema(api_version: str, kind: str) -> bool:
    """True when ``(apiVersion, kind)`` has a schema."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return False
    return (api_version, kind) in _catalog().kinds


def validate(api_version: str, kind: str, obj: object) -> list[SchemaIssue]:
    """Validate one resource; ``[]`` when it is valid or its kind has no schema. Sorted by path."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return []
    catalog = _catalog()
    name = catalog.kinds.get((api_version, kind))
    if name is None:
        return []
    compiled = catalog.compiled(name)
    if compiled.fast(obj):
        return []
    errors = list(compiled.validator.iter_errors(obj))
    return _issues(errors, obj, compiled.schema)


# --------------------------------------------------------------------------------------------
# From jsonschema errors to plain-language issues
# --------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}
# Keys that make a mapping look like a policy rule.
_RULE_KEYS = frozenset({"action", "protocol", "notProtocol", "source", "destination", "icmp", "ipVersion", "http"})
# When several errors share a path, the first kind in this list is reported.
_PRIORITY = (
    "type",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "required",
    "uniqueItems",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "pattern",
    "minLength",
    "maxLength",
)


def _where(path: Sequence[PathPart]) -> str:
    """``in spec.ingress[0]`` / ``at the top level``: where an unknown or missing field is."""
    return f"in {format_path(tuple(path))}" if path else "at the top level"


def _name(path: Sequence[PathPart]) -> str:
    """The path as the subject of a sentence: `` `spec.types[1]` `` or ``the document``."""
    return f"`{format_path(tuple(path))}`" if path else "the document"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
    else:
        text = json.dumps(value, default=str)
        text = text if len(text) <= 40 else text[:37] + "..."
    return f"`{text}`"


def _describe(value: Any) -> str:
    """What a value is, in words: ``a mapping``, ``a string (`Ingress`)``, ``a boolean (`true`)``."""
    if value is None:
        return "empty (null)"
    if isinstance(value, dict):
        return "an empty mapping" if not value else "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, bool):
        return f"a boolean ({_show(value)})"
    if isinstance(value, int):
        return f"an integer ({_show(value)})"
    if isinstance(value, float):
        return f"a number ({_show(value)})"
    if isinstance(value, str):
        return f"a string ({_show(value)})"
    return type(value).__name__


def _alternatives(words: list[str], joiner: str = "or") -> str:
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return f"{words[0]} {joiner} {words[1]}"
    return f"one of {', '.join(words)}"


def _expected_types(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return _alternatives([_TYPE_WORDS.get(t, t) for t in names])


def _suggest(key: str, known: Iterable[str]) -> str | None:
    """The known field ``key`` most probably meant, if any."""
    candidates = list(known)
    lowered = {k.lower(): k for k in candidates}
    if key.lower() in lowered:
        return lowered[key.lower()]
    squashed = key.replace("-", "").replace("_", "").lower()
    for k in candidates:
        if k.lower() == squashed:
            return k
    match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
    if match:
        return match[0]
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[match[0]] if match else None


def _unknown_fields(error: ValidationError, calico: bool) -> list[SchemaIssue]:
    instance = error.instance
    schema = error.schema
    path = tuple(error.absolute_path)
    properties = schema.get("properties", {})
    known = list(properties)
    hints: Mapping[str, str] = schema.get("x-unknown-field-hints", {})
    out = []
    for key in instance:
        if key in properties:
            continue
        where = _where(path)
        hint = hints.get(key)
        suggestion = None if hint else _suggest(key, [*known, *hints])
        if hint:
            text = f"unknown field `{key}` {where}: {hint}"
        elif suggestion and suggestion in hints and suggestion not in properties:
            text = f"unknown field `{key}` {where} (did you mean `{suggestion}`? {hints[suggestion]})"
        elif suggestion and suggestion.lower() == key.lower():
            why = (
                "kubectl and the Kubernetes API are case-sensitive, although calicoctl accepts it"
                if calico
                else "field names are case-sensitive"
            )
            text = f"unknown field `{key}` {where}: the field is `{suggestion}` ({why})"
        elif suggestion:
            text = f"unknown field `{key}` {where} (did you mean `{suggestion}`?)"
        elif 0 < len(known) <= 12:
            text = f"unknown field `{key}` {where} (expected one of {', '.join(f'`{k}`' for k in known)})"
        else:
            text = f"unknown field `{key}` {where}"
        out.append(SchemaIssue((*path, key), text, on_key=True))
    return out


#: A violation in words: the message (what is wrong and why) and the fix ("" when none is plain).
Worded = tuple[str, str]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:].rstrip(".") + "."


def _hint_for_type(expected: Any, value: Any, schema: Mapping[str, Any]) -> Worded:
    """What to add to a type message, and the fix: a schema's ``x-type-hint`` that says what to write is a
    fix, any other hint explains."""
    names = [expected] if isinstance(expected, str) else list(expected)
    hint = schema.get("x-type-hint")
    if names == ["string"] and isinstance(value, bool) and "pattern" not in schema:
        return ": YAML reads unquoted true/false, yes/no, on/off and y/n as booleans", "Quote the value."
    if names == ["string"] and isinstance(value, (int, float)) and "pattern" not in schema:
        return "", f'Quote it: `"{json.dumps(value)}"`.'
    if hint:
        return ("", _sentence(hint)) if hint.startswith("write ") else (f"; {hint}", "")
    if names == ["array"] and isinstance(value, dict):
        return "", "Start each item with `- `."
    if names == ["array"] and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return "", f"Write it as a list: `[{value}]`."
    return "", ""


def _type_message(error: ValidationError) -> Worded:
    schema = error.schema
    expected = schema.get("x-expected")
    if expected is None and "enum" in schema:
        return _enum_message(error.absolute_path, schema["enum"], error.instance)
    if expected is None:
        expected = _expected_types(error.validator_value)
    why, fix = _hint_for_type(error.validator_value, error.instance, schema)
    return f"{_name(error.absolute_path)} must be {expected}, not {_describe(error.instance)}{why}", fix


def _enum_message(path: Sequence[PathPart], allowed: Sequence[Any], value: Any) -> Worded:
    words = [_show(v) for v in allowed]
    shown = _show(value) if isinstance(value, (str, int, float, bool)) else _describe(value)
    text = f"{_name(path)} must be {_alternatives(words)}, not {shown}"
    if isinstance(value, str):
        same = [a for a in allowed if isinstance(a, str) and a.lower() == value.lower()]
        if same:
            return f"{text} (values are case-sensitive)", f"Write `{same[0]}`."
    return text, ""


def _required_message(errors: list[ValidationError]) -> str:
    instance = errors[0].instance
    path = errors[0].absolute_path
    names: list[str] = []
    empty: list[str] = []
    for error in errors:
        for prop in _required_names(error):
            if prop in names or prop in empty:
                continue
            (empty if isinstance(instance, dict) and prop in instance else names).append(prop)
    if isinstance(instance, dict):
        # `Metadata:` instead of `metadata:` is already reported as an unknown field.
        spelled = {k.lower() for k in instance if isinstance(k, str)}
        names = [n for n in names if n.lower() not in spelled]
    if not names and not empty:
        return ""
    parts = []
    if names:
        noun = "field" if len(names) == 1 else "fields"
        parts.append(f"missing required {noun} {', '.join(f'`{n}`' for n in names)} {_where(path)}")
    if empty:
        verb = "is" if len(empty) == 1 else "are"
        listed = ", ".join(f"`{n}`" for n in empty)
        parts.append(f"{listed} {verb} empty {_where(path)} but a value is required")
    return "; ".join(parts)


def _required_names(error: ValidationError) -> list[str]:
    if error.validator == "required":
        match = re.match(r"^'(.*)' is a required property$", error.message)
        return [match.group(1)] if match else list(error.validator_value)
    return []


def _any_of_message(error: ValidationError) -> Worded:
    """One message for an ``anyOf``/``oneOf`` failure, instead of one per branch."""
    context = list(error.context or ())
    if context and all(c.validator == "required" for c in context):
        names = [n for c in context for n in _required_names(c)]
        return f"missing required field `{names[0]}` {_where(error.absolute_path)}" + (
            f" (or {', '.join(f'`{n}`' for n in names[1:])})" if len(names) > 1 else ""
        ), ""
    branch_types: list[str] = []
    for branch in error.validator_value:
        t = branch.get("type") if isinstance(branch, dict) else None
        if t is None:
            branch_types = []
            break
        branch_types.extend([t] if isinstance(t, str) else t)
    if branch_types:
        expected = _expected_types(branch_types)
        return f"{_name(error.absolute_path)} must be {expected}, not {_describe(error.instance)}", ""
    deepest = max(context, key=lambda c: len(c.absolute_path), default=None)
    if deepest is not None and len(deepest.absolute_path) > len(error.absolute_path):
        return _message(deepest.validator, [deepest])
    return f"{_name(error.absolute_path)} does not match any of the allowed forms", ""


def _message(keyword: str, errors: list[ValidationError]) -> Worded:
    """The message and the fix for the errors of one keyword at one place."""
    error = errors[0]
    if keyword == "type":
        return _type_message(error)
    if keyword == "enum":
        return _enum_message(error.absolute_path, error.validator_value, error.instance)
    if keyword in ("anyOf", "oneOf"):
        return _any_of_message(error)
    if keyword == "minItems" and error.validator_value == 1 and not error.instance:
        return f"{_name(error.absolute_path)} must not be an empty list", "Omit the field instead."
    return _plain_message(keyword, errors), ""


def _plain_message(keyword: str, errors: list[ValidationError]) -> str:
    error = errors[0]
    path = error.absolute_path
    value = error.instance
    limit = error.validator_value
    schema = error.schema
    if keyword == "const":
        shown = _describe(value) if isinstance(value, (dict, list)) or value is None else _show(value)
        return f"{_name(path)} must be {_show(limit)}, not {shown}"
    if keyword == "required":
        return _required_message(errors)
    if keyword == "uniqueItems":
        seen: list[Any] = []
        dupes: list[str] = []
        for item in value:
            if any(_json_equal(item, s) for s in seen):
                shown = _show(item) if not isinstance(item, (dict, list)) else _describe(item)
                if shown not in dupes:
                    dupes.append(shown)
            else:
                seen.append(item)
        return f"{_name(path)} lists {', '.join(dupes) or 'an entry'} more than once; entries must be unique"
    if keyword == "minItems":
        return f"{_name(path)} must have at least {limit} items, it has {len(value)}"
    if keyword == "maxItems":
        noun = "item" if limit == 1 else "items"
        return f"{_name(path)} can have at most {limit} {noun}, it has {len(value)}"
    if keyword == "minimum":
        return f"{_name(path)} must be at least {limit}, not {_show(value)}"
    if keyword == "maximum":
        return f"{_name(path)} must be at most {limit}, not {_show(value)}"
    if keyword == "pattern":
        expected = schema.get("x-expected") or f"a string matching `{limit}`"
        return f"{_name(path)} must be {expected}, not {_show(value)}"
    if keyword == "minLength":
        return f"{_name(path)} must be at least {limit} characters long"
    if keyword == "maxLength":
        return f"{_name(path)} must be at most {limit} characters long, it has {len(value)}"
    if keyword == "additionalProperties":  # only reached for schema-valued additionalProperties
        return f"{_name(path)} has unexpected fields"
    return f"{_name(path)} is not valid here ({keyword})"


def _misplaced_rules(obj: Any, schema: Mapping[str, Any]) -> tuple[SchemaIssue, list[int]] | None:
    """The guide's mistake: rules written under ``types:`` because ``ingress:``/``egress:`` is missing.

    Reported once, on the first misplaced item; returns the issue and the indexes of all of them.
    """
    spec_schema = schema.get("properties", {}).get("spec", {})
    if "types" not in spec_schema.get("properties", {}):
        return None
    spec = obj.get("spec") if isinstance(obj, dict) else None
    types = spec.get("types") if isinstance(spec, dict) else None
    if not isinstance(types, list):
        return None
    rules = [i for i, item in enumerate(types) if isinstance(item, dict) and _RULE_KEYS & set(item)]
    if not rules:
        return None
    first = rules[0]
    if len(rules) == 1:
        which = f"item {first} of `types` is a rule"
    else:
        which = f"items {', '.join(map(str, rules[:-1]))} and {rules[-1]} of `types` are rules"
    if all("action" in types[i] for i in rules):
        which += " (with `action`)"
    issue = SchemaIssue(
        ("spec", "types", first),
        f"`spec.types[{first}]` must be `Ingress` or `Egress`, not a mapping: {which}, so the rules ended up "
        "inside `types`. An `ingress:` (or `egress:`) key is probably missing before them; as written the "
        "policy has no rules",
        fix="Add the missing `ingress:` (or `egress:`) key before the rules.",
    )
    return issue, rules


def _sort_key(path: tuple[PathPart, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def _issues(errors: list[ValidationError], obj: Any, schema: Mapping[str, Any]) -> list[SchemaIssue]:
    issues: dict[tuple[PathPart, ...], SchemaIssue] = {}
    calico = "calico/" in str(schema.get("$id", ""))
    suppressed: set[tuple[PathPart, ...]] = set()

    misplaced = _misplaced_rules(obj, schema)
    if misplaced is not None:
        issue, indexes = misplaced
        issues[issue.path] = issue
        # Same root cause: the other misplaced items, and `maxItems` on the list itself.
        suppressed.update(("spec", "types", i) for i in indexes)
        types = obj["spec"]["types"]
        rest = [item for i, item in enumerate(types) if i not in indexes]
        if not any(_json_equal(a, b) for i, a in enumerate(rest) for b in rest[i + 1 :]):
            suppressed.add(("spec", "types"))  # no duplicate `Ingress`/`Egress` of its own either

    by_path: dict[tuple[PathPart, ...], dict[str, list[ValidationError]]] = {}
    for error in errors:
        path = tuple(error.absolute_path)
        value = error.instance
        # A key whose value is null is "not set" for Go and for Kubernetes (nulls are pruned), so
        # only unknown keys and required fields complain about it.
        if value is None and path and isinstance(path[-1], str) and error.validator != "required":
            continue
        if path in suppressed:
            continue
        if error.validator == "additionalProperties" and error.validator_value is False:
            for issue in _unknown_fields(error, calico):
                issues.setdefault(issue.path, issue)
            continue
        by_path.setdefault(path, {}).setdefault(error.validator, []).append(error)

    for path, keyed in by_path.items():
        if path in issues or path in suppressed:
            continue
        keyword = next((k for k in _PRIORITY if k in keyed), None) or sorted(keyed)[0]
        message, fix = _message(keyword, keyed[keyword])
        if message:
            issues[path] = SchemaIssue(path, message, fix=fix)

    return sorted(issues.values(), key=lambda issue: (_sort_key(issue.path), issue.on_key))
