"""Hostile-input generators and the one check every fuzz input must pass.

Three sources of input, all driven by a ``random.Random`` so that hypothesis (tests/test_fuzz.py),
the long on-demand run (``fuzz/run.sh``) and atheris (``fuzz/atheris_audit.py``) share them:

* :func:`yaml_noise` - YAML-shaped text built from tokens (anchors, aliases, tags, flow and block
  collections, document markers, tabs, odd scalars);
* :class:`SchemaGen` - manifests generated from the JSON Schemas in ``schemas/``, then
  :func:`mutate`-d (wrong types, nulls, huge numbers, odd strings, wrong containers);
* :func:`mutate_bytes` - byte-level mutations of real files (``../shared/corpus/real/``): byte flips,
  truncations, swapped indentation, line endings, encodings, inserted tokens.

:func:`check_input` audits the input next to a sentinel file through :func:`auditor.run.audit` and
asserts: no exception (rule crashes re-raised with ``debug=True``), no internal-error finding, the
sentinel's finding still there, sane positions, every report format renders, and a time budget.
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "real"
SUFFIXES = (".yaml", ".yml", ".json")

#: Seconds one input (with the sentinel) may take to audit and render in every format.
TIME_BUDGET = 2.0

# --------------------------------------------------------------------------------------------
# Value pools
# --------------------------------------------------------------------------------------------

SELECTORS = [
    "all()",
    "global()",
    "has(k8s-role)",
    "!has(foo)",
    "app == 'web'",
    "app == 'web' && tier in {'a', 'b'}",
    "k8s-role == 'node'",
    "projectcalico.org/namespace == 'default'",
    "a not in {}",
    "app == 'web",
    "has(",
    "&&",
    "(((((((((((a == 'b')))))))))))",
    "a contains 'x' || b starts with 'y' || c ends with 'z'",
    "!" * 50 + "all()",
    "a == '\u00e9\u4e2d'",
    "",
    " ",
]
CIDRS = [
    "10.0.0.0/8",
    "192.168.0.0/16",
    "0.0.0.0/0",
    "::/0",
    "fd00::/64",
    "10.96.0.10",
    "10.96.0.10/32",
    "10.0.0.1/8",
    "300.1.1.1/24",
    "10.0.0.0/33",
    "1.2.3.4/",
    "/8",
    "::ffff:10.0.0.1/128",
    "10.0.0.0/-1",
    "\u0661.\u0662.\u0663.\u0664/8",
    "None",
]
PORTS: list[Any] = [
    80,
    443,
    0,
    65535,
    65536,
    -1,
    "80",
    "8000:8080",
    "8080:8000",
    "1-2",
    "http",
    "HTTP",
    "a" * 20,
    "30000:32767",
    "\u00b2",
    "\u0663\u0664",
    "1:\u00b2",
    "0:0",
    ":",
    "80:",
]
PROTOCOLS: list[Any] = [
    "TCP",
    "UDP",
    "ICMP",
    "ICMPv6",
    "SCTP",
    "UDPLite",
    "tcp",
    "6",
    6,
    0,
    256,
    "\u00b2",
    "\u0666",
    "GRE",
]
ACTIONS = ["Allow", "Deny", "Pass", "Log", "allow", "Drop", "Accept", ""]
NAMES = ["default", "web", "kube-system", "node-1", "eth0", "*", "a" * 300, "caf\u00e9", "has space", "UPPER", "-x-"]
LABEL_KEYS = ["app", "tier", "k8s-role", "kubernetes.io/hostname", "projectcalico.org/name", "x/y/z", "", "true", "80"]
GENERIC = ["", "x", "true", "yes", "null", "~", "0x1F", "1e3", "Local", "Cluster", "None", "Enabled", "Ingress"]

HOSTILE: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    1,
    65536,
    2**31,
    2**63,
    10**30,
    10**400,
    -(10**400),
    1.5,
    -0.0,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    [],
    {},
    [None],
    [[]],
    [{}],
    {"": None},
    {"a": {"b": {"c": None}}},
    "\u00b2",
    "\u0663",
    "\u0661\u0662:\u0663\u0664",
    "\u00b9:\u00b2",
    "\u202eevil",
    "\u2603",
    "\U0001f4a5",
    "\x00",
    "\x7f\x85\u2028\u2029",
    "a" * 5000,
    "0x50",
    "0o17",
    "017",
    "1_000",
    "null",
    "~",
    "true",
    "yes",
    "on",
    "{{ .Values.x }}",
    "${VAR}",
    "!has(foo)",
    "a == 'b",
    "10.0.0.0/33",
    "\t",
    "\n",
    "a: b",
    "- x",
    "*alias",
    "&anchor",
    "!!python/object/apply:os.system",
    "%YAML 1.1",
]
SPEC_KEYS = [
    "selector",
    "namespaceSelector",
    "serviceAccountSelector",
    "ingress",
    "egress",
    "types",
    "order",
    "tier",
    "preDNAT",
    "applyOnForward",
    "doNotTrack",
    "action",
    "protocol",
    "notProtocol",
    "source",
    "destination",
    "nets",
    "notNets",
    "ports",
    "notPorts",
    "icmp",
    "http",
    "services",
    "serviceAccounts",
    "ipVersion",
    "node",
    "interfaceName",
    "expectedIPs",
    "profiles",
    "cidr",
    "clusterIP",
    "clusterIPs",
    "externalIPs",
    "externalTrafficPolicy",
    "type",
    "metadata",
    "spec",
    "items",
    "labels",
    "name",
    "namespace",
    "podSelector",
    "matchLabels",
    "matchExpressions",
    "ipBlock",
    "except",
    "from",
    "to",
    "port",
    "endPort",
    "targetPort",
    "nodePort",
    "stagedAction",
    "serviceClusterIPs",
    "failsafeInboundHostPorts",
    "kubeNodePortRanges",
    "defaultEndpointToHostAction",
    "allowedUses",
    "disabled",
    "hostNetwork",
    "containers",
    "template",
    "<<",
]


def _pool_for(key: str) -> list[Any]:
    low = key.lower()
    if "selector" in low:
        return SELECTORS
    if low in ("nets", "notnets", "except", "expectedips", "externalips", "clusterips", "clusterip", "ip", "address"):
        return CIDRS
    if "cidr" in low or "loadbalancerip" in low or low.endswith("ips"):
        return CIDRS
    if "port" in low:
        return PORTS
    if "protocol" in low:
        return PROTOCOLS
    if "action" in low:
        return ACTIONS
    if low in ("name", "namespace", "node", "interfacename", "tier", "serviceaccountname", "names", "profiles"):
        return NAMES
    if low in ("types", "policytypes"):
        return ["Ingress", "Egress", "ingress", "Both"]
    return GENERIC + SELECTORS[:3] + CIDRS[:2]


# --------------------------------------------------------------------------------------------
# Manifests from the JSON Schemas
# --------------------------------------------------------------------------------------------


def _join(base: str, relative: str) -> str:
    parts = base.split("/")[:-1]
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


class SchemaGen:
    """Random instances of the schemas in ``schemas/`` (mostly valid), for :func:`mutate` to break."""

    def __init__(self, documents: Mapping[str, Any] | None = None) -> None:
        if documents is None:
            from auditor.schema import schema_documents

            documents = schema_documents()
        self.docs = dict(documents)
        self.kinds: list[tuple[str, str, str]] = []
        for name, doc in sorted(self.docs.items()):
            for gvk in doc.get("x-kubernetes-group-version-kind", []):
                group, version = gvk.get("group", ""), gvk["version"]
                self.kinds.append((name, f"{group}/{version}" if group else version, gvk["kind"]))

    def _resolve(self, node: Any, base: str) -> tuple[dict[str, Any], str]:
        for _ in range(32):
            if not isinstance(node, dict) or "$ref" not in node:
                break
            target_doc, _, fragment = node["$ref"].partition("#")
            name = _join(base, target_doc) if target_doc else base
            target: Any = self.docs.get(name, {})
            for part in fragment.strip("/").split("/"):
                if part:
                    target = target.get(part, {}) if isinstance(target, dict) else {}
            merged = dict(target) if isinstance(target, dict) else {}
            merged.update((k, v) for k, v in node.items() if k != "$ref")
            node, base = merged, name
        return (node if isinstance(node, dict) else {}), base

    def manifest(self, rng: random.Random) -> dict[str, Any]:
        name, api, kind = rng.choice(self.kinds)
        data = self.instance(self.docs[name], name, rng, 0, "")
        if not isinstance(data, dict):
            data = {}
        data["apiVersion"] = api
        data["kind"] = kind
        meta = data.setdefault("metadata", {})
        if isinstance(meta, dict):
            meta.setdefault("name", rng.choice(NAMES[:4]))
        return data

    def instance(self, node: Any, base: str, rng: random.Random, depth: int, key: str) -> Any:
        node, base = self._resolve(node, base)
        for combinator in ("anyOf", "oneOf"):
            if node.get(combinator):
                rest = {k: v for k, v in node.items() if k != combinator}
                branch, branch_base = self._resolve(rng.choice(node[combinator]), base)
                return self.instance({**rest, **branch}, branch_base, rng, depth, key)
        if "const" in node:
            return copy.deepcopy(node["const"])
        if node.get("enum"):
            return copy.deepcopy(rng.choice(node["enum"]))
        kind = node.get("type")
        if isinstance(kind, list):
            kind = rng.choice(kind) if kind else None
        if kind is None:
            kind = "object" if "properties" in node else "array" if "items" in node else "string"
        if depth > 14:
            return None
        if kind == "object":
            out: dict[str, Any] = {}
            required = set(node.get("required", ()))
            keep = 0.7 if depth < 3 else 0.4
            for prop, sub in node.get("properties", {}).items():
                if prop in required or rng.random() < keep:
                    out[prop] = self.instance(sub, base, rng, depth + 1, prop)
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and rng.random() < 0.5:
                for _ in range(rng.randint(1, 3)):
                    out[rng.choice(LABEL_KEYS)] = self.instance(extra, base, rng, depth + 1, "label")
            return out
        if kind == "array":
            count = rng.choice((0, 1, 1, 1, 2, 3))
            return [self.instance(node.get("items", {}), base, rng, depth + 1, key) for _ in range(count)]
        if kind == "integer":
            pool = [p for p in _pool_for(key) if isinstance(p, int) and not isinstance(p, bool)]
            return rng.choice(pool or [0, 1, 100, 1000, -5, 65535])
        if kind == "number":
            return rng.choice((0, 1.5, 100.0, 1e9, -3.25))
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        pool = [p for p in _pool_for(key) if isinstance(p, str)]
        return rng.choice(pool or GENERIC)


# --------------------------------------------------------------------------------------------
# Structural mutations of data
# --------------------------------------------------------------------------------------------


def _paths(data: Any, prefix: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None) -> list[tuple[Any, ...]]:
    out = [] if out is None else out
    out.append(prefix)
    if isinstance(data, dict):
        for key, value in data.items():
            _paths(value, (*prefix, key), out)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _paths(value, (*prefix, i), out)
    return out


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


def _wrong_container(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        return list(value.values()) if rng.random() < 0.5 else list(value.keys())
    if isinstance(value, list):
        return value[0] if value and rng.random() < 0.5 else {str(i): v for i, v in enumerate(value)}
    return [value] if rng.random() < 0.5 else {"value": value}


def _nest(depth: int, rng: random.Random) -> Any:
    node: Any = rng.choice([None, "x", 1])
    for _ in range(depth):
        node = [node] if rng.random() < 0.5 else {rng.choice(SPEC_KEYS): node}
    return node


def _depth(data: Any) -> int:
    """Nesting depth, without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


#: Deep enough to cross the loader's 200 levels, shallow enough for the YAML dumper's recursion.
MAX_DEPTH = 205


def mutate(data: Any, rng: random.Random, rounds: int | None = None) -> Any:
    """Break ``data`` (a copy is returned): wrong types, nulls, huge numbers, odd strings, wrong containers."""
    data = copy.deepcopy(data)
    for _ in range(rounds if rounds is not None else rng.randint(1, 5)):
        before = copy.deepcopy(data)
        data = _mutate_once(data, rng)
        if _depth(data) > MAX_DEPTH:
            data = before
    return data


def _mutate_once(data: Any, rng: random.Random) -> Any:
    paths = _paths(data)
    path = rng.choice(paths)
    target = _get(data, path)
    op = rng.randrange(9)
    if op <= 2:
        data = _set(data, path, copy.deepcopy(rng.choice(HOSTILE)))
    elif op == 3:
        data = _set(data, path, _wrong_container(target, rng))
    elif op == 4 and path:
        parent = _get(data, path[:-1])
        del parent[path[-1]]
    elif op == 5 and isinstance(target, dict):
        key = rng.choice(SPEC_KEYS + [str(rng.choice(HOSTILE))[:40]])
        target[key] = copy.deepcopy(rng.choice(HOSTILE + _pool_for(key)))
    elif op == 6:
        room = MAX_DEPTH - 5 - len(path)
        if room > 0:
            data = _set(data, path, _nest(min(room, rng.choice((rng.randint(1, 60), rng.randint(150, 199)))), rng))
    elif op == 7 and isinstance(target, (dict, list)) and path:
        # The subtree again, one level down: shapes the model does not expect.
        data = _set(data, path, {rng.choice(SPEC_KEYS): copy.deepcopy(target)})
    else:
        pool = _pool_for(str(path[-1]) if path else "")
        data = _set(data, path, copy.deepcopy(rng.choice(pool)))
    return data


def _flow(data: Any) -> str:
    """Flow-style YAML (JSON-like) for data too deep for the dumper."""
    if isinstance(data, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_flow(v)}" for k, v in data.items()) + "}"
    if isinstance(data, list):
        return "[" + ", ".join(_flow(v) for v in data) + "]"
    if isinstance(data, float) and data != data:
        return ".nan"
    if isinstance(data, float) and data in (float("inf"), float("-inf")):
        return ".inf" if data > 0 else "-.inf"
    return json.dumps(data)


def dump(documents: list[Any], rng: random.Random) -> bytes:
    """Documents as YAML (block or flow style) or JSON bytes."""
    from ruamel.yaml import YAML

    style = rng.randrange(4)
    if style == 0 and len(documents) == 1:
        try:
            return json.dumps(documents[0], indent=rng.choice((None, 2))).encode("utf-8")
        except ValueError:
            pass
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = style == 1
    yaml.allow_unicode = rng.random() < 0.7
    buf = io.StringIO()
    try:
        yaml.dump_all(documents, buf)
    except RecursionError:
        return "\n---\n".join(_flow(d) for d in documents).encode("utf-8")
    return buf.getvalue().encode("utf-8")


def schema_case(gen: SchemaGen, rng: random.Random) -> bytes:
    """One to three schema-shaped manifests (sometimes wrapped in a ``List``), mutated, as bytes."""
    docs = [gen.manifest(rng) for _ in range(rng.choice((1, 1, 2, 3)))]
    if rng.random() < 0.2:
        docs = [{"apiVersion": "v1", "kind": "List", "items": docs}]
    if rng.random() < 0.9:
        docs = [mutate(d, rng) for d in docs]
    return dump(docs, rng)


# --------------------------------------------------------------------------------------------
# YAML-shaped noise
# --------------------------------------------------------------------------------------------

_TOKENS = [
    "apiVersion: projectcalico.org/v3",
    "apiVersion: v1",
    "kind: GlobalNetworkPolicy",
    "kind: NetworkPolicy",
    "kind: Service",
    "kind: HostEndpoint",
    "kind: List",
    "metadata:",
    "name: x",
    "spec:",
    "selector: all()",
    "ingress:",
    "egress:",
    "items:",
    "- action: Allow",
    "- ",
    "-",
    "? ",
    ": ",
    ":",
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object/apply:os.system ['true']",
    "!!python/object:builtins.dict {}",
    "!has(foo)",
    "!custom ",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!timestamp 2001-12-14",
    "!!int '0x1F'",
    "!!float .inf",
    "!!str",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "'",
    '"',
    "|",
    ">-",
    "#",
    "---",
    "...",
    "%YAML 1.2",
    "%TAG ! tag:example.com,2000:",
    "\t",
    "  ",
    "    ",
    "\r\n",
    "\n",
    "{{ .Values.x }}",
    "80",
    "8000:8080",
    "10.0.0.0/8",
    "true",
    "yes",
    "~",
    "null",
    "0o17",
    "1e400",
    "9" * 5000,
    ".nan",
    "\u00b2",
    "\ufeff",
    "\u2028",
    "\x85",
    "\x00",
    "\x1b[31m",
    "\U0001f4a5",
]


def yaml_noise(rng: random.Random, max_tokens: int = 60) -> str:
    """Text made of YAML tokens: most of it does not parse, some of it parses into odd shapes."""
    out: list[str] = []
    for _ in range(rng.randint(0, max_tokens)):
        if rng.random() < 0.3:
            out.append("\n" + " " * rng.choice((0, 0, 2, 4, 6, 1, 3)))
        out.append(rng.choice(_TOKENS))
        if rng.random() < 0.3:
            out.append(" ")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Byte-level mutations (real files as seeds)
# --------------------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))


_SPECIAL = b":-\t\x00\xff\"'{}[]&*!|>#%@`,?\r\n \xc3\xe2"


def _swap_indent(text: bytes, rng: random.Random) -> bytes:
    lines = text.split(b"\n")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        body = lines[i].lstrip(b" \t")
        indent = lines[i][: len(lines[i]) - len(body)]
        choice = rng.randrange(4)
        if choice == 0:
            indent = indent.replace(b"  ", b"\t")
        elif choice == 1:
            indent = indent[: max(0, len(indent) - rng.randint(1, 2))]
        elif choice == 2:
            indent += b" " * rng.randint(1, 2)
        else:
            j = rng.randrange(len(lines))
            other = lines[j].lstrip(b" \t")
            lines[j] = lines[j][: len(lines[j]) - len(other)] + body
            body = other
        lines[i] = indent + body
    return b"\n".join(lines)


def mutate_bytes(data: bytes, rng: random.Random, others: list[bytes] | None = None) -> bytes:
    """Byte flips, truncations, swapped indentation, line-ending and encoding changes, inserted tokens."""
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(12)
        if not data:
            data = rng.choice(_TOKENS).encode("utf-8")
            continue
        pos = rng.randrange(len(data))
        if op == 0:
            buf = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
            data = bytes(buf)
        elif op == 1:
            data = data[:pos] + bytes([rng.choice(_SPECIAL)]) + data[pos + 1 :]
        elif op == 2:
            data = data[:pos]
        elif op == 3:
            data = _swap_indent(data, rng)
        elif op == 4:
            lines = data.split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif op == 5:
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                del lines[i]
            else:
                lines[i:i] = lines[i : i + rng.randint(1, 5)]
            data = b"\n".join(lines)
        elif op == 6:
            data = data[:pos] + rng.choice(_TOKENS).encode("utf-8") + data[pos:]
        elif op == 7:
            data = data.replace(b"\n", rng.choice((b"\r\n", b"\r", b"\x85", b"\xe2\x80\xa8")))
        elif op == 8:
            text = data.decode("utf-8", errors="replace")
            enc = rng.choice(("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"))
            data = text.encode(enc, errors="replace")
        elif op == 9 and others:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            data = data[:pos] + other[cut:]
        elif op == 10:
            data = data[:pos] + data[pos : pos + rng.randint(1, 200)] * rng.randint(2, 20) + data[pos:]
        else:
            data = data[:pos] + data[pos + rng.randint(1, 50) :]
    return data


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------

SENTINEL_NAME = "zz-sentinel.yaml"
SENTINEL = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: calico-audit-fuzz-sentinel
spec:
  selector: "app == 'web"
"""
SENTINEL_AT = (6, 21)  # CA003: the quote that opens the unterminated string in the selector


class Failure(AssertionError):
    """A fuzz input that broke a guarantee; ``files`` are the input, to reproduce it."""

    def __init__(self, message: str, files: Mapping[str, bytes]) -> None:
        super().__init__(message)
        self.files = dict(files)


def check_input(
    folder: Path,
    files: Mapping[str, bytes],
    budget: float = TIME_BUDGET,
    formats: tuple[str, ...] = ("console", "sarif", "json", "github", "markdown"),
    on_slow: Callable[[float], None] | None = None,
) -> Any:
    """Audit ``files`` (name -> bytes) beside the sentinel in ``folder`` and check every guarantee.

    Returns the :class:`~auditor.run.AuditResult`; raises :class:`Failure` (or the crash itself)
    when a guarantee is broken.
    """
    from auditor.config import Config
    from auditor.load import display_path
    from auditor.report import render
    from auditor.run import audit

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / SENTINEL_NAME).write_text(SENTINEL, encoding="utf-8")
    started = time.perf_counter()
    try:
        result = audit([str(folder)], Config(), debug=True)
        rendered = {fmt: render(result, fmt, color=fmt == "console", width=100) for fmt in formats}
    except Exception as exc:
        raise Failure(f"{type(exc).__name__}: {exc}", files) from exc
    elapsed = time.perf_counter() - started
    if elapsed > budget:
        if on_slow is not None:
            on_slow(elapsed)
        else:
            raise Failure(f"took {elapsed:.2f} s (budget {budget} s)", files)
    if result.internal_errors:
        raise Failure(f"internal error: {result.internal_errors[0].message}", files)
    if "json" in rendered:
        json.loads(rendered["json"])
    sentinel = display_path(str(folder / SENTINEL_NAME))
    if not any(
        f.rule_id == "CA003"
        and f.location.path == sentinel
        and (f.location.span.line, f.location.span.column) == SENTINEL_AT
        for f in result.findings
    ):
        raise Failure("the sentinel's CA003 finding is missing: a bad file hid another file's findings", files)
    texts = result.files
    for f in result.findings:
        span = f.location.span
        if span.line < 1 or span.column < 1 or (span.end_line, span.end_column) < (span.line, span.column):
            raise Failure(f"bad span {span} in {f.rule_id}: {f.message}", files)
        source = texts.get(f.location.path)
        if source is not None and source.text is not None and span.line > len(source.lines) + 1:
            raise Failure(f"{f.rule_id} points at line {span.line} of a {len(source.lines)}-line file", files)
    return result


def save_failure(failure: Failure, folder: Path) -> Path:
    """Keep a failing input for reproduction (``audit <folder>``)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = f"crash-{int(time.time() * 1000)}-{os.getpid()}"
    target = folder / stamp
    target.mkdir()
    for name, data in failure.files.items():
        (target / name).write_bytes(data)
    (target / "REASON.txt").write_text(str(failure) + "\n", encoding="utf-8")
    return target
