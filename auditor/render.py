"""Helm charts and kustomize overlays: rendered with the real tools, audited, placed at their sources.

A folder with a ``Chart.yaml`` is rendered with ``helm template`` (its ``values.yaml`` plus the value
files configured in ``helm-values``); a folder with a ``kustomization.yaml`` with ``kustomize build``
(or ``kubectl kustomize``). The rendered output is audited instead of the raw files: the chart folder
as a whole, and, for a kustomization, every file it uses (resources, patches, bases, components), so
nothing is audited twice. A kustomization that another one uses is rendered through that one only.

Every rendered document is a :class:`~auditor.load.RenderedDocument` whose origin places a finding
in the source: for Helm the template named by the ``# Source:`` comment helm writes (the line with
the same text or key, else the document start), for kustomize the resource file named by kustomize's
own origin annotations (``buildMetadata: [originAnnotations]``, asked for through a throwaway
kustomization in a temporary folder: the repository is never modified). The engine then adds the
rendered line as a related location.

Only the ``helm`` and ``kustomize``/``kubectl`` binaries found on PATH are run, never anything from
the repository: no plugins (an empty plugin folder, ``HELM_NO_PLUGINS``), no post-renderers, no
dependency downloads (missing chart dependencies are a finding), no KRM functions or exec plugins
(kustomize's defaults), no remote bases (refused before rendering). Each run gets a fresh HOME and
XDG folders, an empty kubeconfig, proxies pointing at a closed local port, git limited to local
files, no standard input, a time limit and an output size limit. A failure is a CA001 finding at
the ``Chart.yaml`` or kustomization file, never a crash.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.findings import Location, PathT, Span
from auditor.load import (
    Candidate,
    Document,
    Limits,
    LoadProblem,
    LoadResult,
    RenderedDocument,
    SourceFile,
    add_documents,
    decode,
    display_path,
    parse_cached,
    parse_text,
    parse_text_cached,
    resources_of,
)

if TYPE_CHECKING:
    from auditor.cache import ParseCache, Rendered

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
HELM_HINT = (
    "put helm (v3 or v4) on PATH to audit the rendered chart with findings placed in its templates, "
    "or render it yourself: `helm template RELEASE CHART | audit -`"
)
KUSTOMIZE_HINT = (
    "put kustomize or kubectl on PATH to audit the rendered overlay with findings placed in its resource "
    "files, or render it yourself: `kubectl kustomize DIR | audit -`"
)
#: Where a proxy-aware client (helm, kustomize's HTTP loader) would connect: a closed local port.
_NO_NETWORK_PROXY = "http://127.0.0.1:9"
_SOURCE_RE = re.compile(r"^# Source: (.+?)\s*$")
_KEY_RE = re.compile(r"^([^\s:#{}\[\]'\"][^:#{}]*?|\"[^\"]*\"|'[^']*'):(?:\s|$)")
_DOC_SEPARATOR_RE = re.compile(r"^---(?:\s.*)?$")
_REMOTE_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)|\?ref=|//", re.I)


@dataclass(frozen=True)
class RenderSettings:
    """What the configuration says about rendering (``render`` and ``helm-values``)."""

    enabled: bool = True
    helm_values: Mapping[str, Sequence[str]] = field(default_factory=dict)
    timeout: float = 60.0


class Renderer:
    """Rendering as discovery uses it (:class:`auditor.load.Renderer`): the settings, the tools found
    on PATH (looked up once, on first use) and the functions of this module."""

    helm_hint = HELM_HINT
    kustomize_hint = KUSTOMIZE_HINT

    def __init__(
        self, settings: RenderSettings | None = None, cache: ParseCache | None = None, max_bytes: int | None = None
    ) -> None:
        self.settings = settings or RenderSettings()
        self.enabled = self.settings.enabled
        self.cache = cache  # rendered outputs are kept there, keyed by everything the tool reads
        self.max_bytes = max_bytes  # the file size limit of the run, when known up front: builds start early
        self._tools: Tools | None = None
        self._prefetch: _Prefetch | None = None

    @property
    def tools(self) -> Tools:
        if self._tools is None:
            self._tools = find_tools()
        return self._tools

    def can_render_helm(self) -> bool:
        return bool(self.tools.helm)

    def can_render_kustomize(self) -> bool:
        return bool(self.tools.kustomize)

    @staticmethod
    def is_chart(folder: str) -> bool:
        return is_chart(folder)

    @staticmethod
    def kustomization_file(folder: str) -> str | None:
        return kustomization_file(folder)

    def plan_kustomize(self, folders: list[str]) -> KustomizePlan:
        """The plan; with the run's file size limit known, the builds of its overlays start right away, a
        few at a time in the background, while discovery and parsing go on (see :class:`_Prefetch`)."""
        plan = plan_kustomize(folders)
        if plan.roots and self.max_bytes is not None and self.tools.kustomize is not None:
            self._prefetch = _Prefetch(self.tools, self.settings, self.cache, self.max_bytes, plan.roots)
        return plan

    def load_rendered(
        self, result: LoadResult, candidate: Candidate, known_kinds: frozenset[str], limits: Limits, pure: bool
    ) -> None:
        load_rendered(result, candidate, self.settings, known_kinds, limits, pure, self.cache, self._prefetch)

    def finish(self) -> None:
        """The load is over: early builds nobody took (their output came from the cache) are cancelled
        or waited for, so that no tool runs after the run has read its input."""
        if self._prefetch is not None:
            self._prefetch.close()
            self._prefetch = None


@dataclass(frozen=True)
class Tools:
    helm: str | None
    kustomize: tuple[str, ...] | None  # the command before the folder: (kustomize, build) or (kubectl, kustomize)


def find_tools() -> Tools:
    helm = shutil.which("helm")
    kustomize: tuple[str, ...] | None = None
    if (path := shutil.which("kustomize")) is not None:
        kustomize = (path, "build")
    elif (path := shutil.which("kubectl")) is not None:
        kustomize = (path, "kustomize")
    return Tools(helm, kustomize)


def is_chart(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "Chart.yaml"))


def kustomization_file(folder: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


# --------------------------------------------------------------------------------------------
# Origins: where a rendered document came from
# --------------------------------------------------------------------------------------------


class HelmOrigin:
    """A document of ``helm template`` output and the template it came from (``# Source:``)."""

    __slots__ = ("chart_file", "label", "segment", "template")

    def __init__(self, template: SourceFile | None, chart_file: SourceFile, segment: tuple[int, int] | None) -> None:
        self.template = template
        self.chart_file = chart_file
        self.segment = segment  # the template lines (first, last) this document comes from, when known
        self.label = "helm template"

    def locate(self, doc: Document, path: PathT, on_key: bool) -> Location:
        if self.template is None:
            return Location(self.chart_file.path, Span.point(1, 1))
        lines = self.template.lines
        first, last = self.segment or (1, len(lines))
        span = _match_line(doc, path, on_key, lines, first, last)
        return Location(self.template.path, span or _document_start(lines, first, last))

    def extent(self) -> tuple[str, int, int]:
        """The source file and lines an annotation on this document covers."""
        if self.template is None:
            return self.chart_file.path, 1, 1
        first, last = self.segment or (1, len(self.template.lines))
        return self.template.path, first, last

    def document(self) -> Document | None:
        return None  # a template is not YAML


class KustomizeOrigin:
    """A document of ``kustomize build`` output and the resource (or kustomization) it came from."""

    __slots__ = ("base", "exact", "file", "label", "source")

    def __init__(self, file: SourceFile, source: Document | None, base: PathT = (), exact: bool = True) -> None:
        self.file = file
        self.source = source  # the matching document in the source file, when found
        self.base = base  # its path inside that document (a ``*List`` item)
        self.exact = exact  # False: the object is not written out there (a generator): the document start
        self.label = "kustomize build"

    def locate(self, doc: Document, path: PathT, on_key: bool) -> Location:
        if self.source is None:
            return Location(self.file.path, Span.point(1, 1))
        if not self.exact:
            return Location(self.file.path, self.source.root_span())
        return Location(self.file.path, self.source.locate(self.base + tuple(path), on_key))

    def extent(self) -> tuple[str, int, int]:
        if self.source is None:
            return self.file.path, 1, 1
        return self.file.path, self.source.root_span().line, self.source.end_line()

    def document(self) -> Document | None:
        return self.source


def _norm(line: str) -> str:
    """A YAML line without indentation and sequence dashes: what helm's output and the template share."""
    text = line.strip()
    while text.startswith("- "):
        text = text[2:].lstrip()
    return "" if text == "-" else text


def _key(text: str) -> str:
    match = _KEY_RE.match(text)
    return match.group(1) if match else ""


def _match_line(doc: Document, path: PathT, on_key: bool, tlines: list[str], first: int, last: int) -> Span | None:
    """The place in a template of the rendered node at ``path``: a line with the same text, else the same key.

    Among several candidates, the n-th one in the template matches the n-th one in the document (loops
    and repeated keys); the column is the same offset into the text.
    """
    span = doc.locate(path, on_key)
    rlines = doc.file.lines
    if not 0 < span.line <= len(rlines):
        return None
    line = rlines[span.line - 1]
    content = _norm(line)
    if not content:
        return None
    start = line.find(content)
    offset = max(span.column - 1 - start, 0)
    doc_first = doc.root_span().line
    before = [_norm(rlines[n - 1]) for n in range(doc_first, span.line)]
    window = range(first, min(last, len(tlines)) + 1)
    exact = [n for n in window if _norm(tlines[n - 1]) == content]
    if exact:
        n = exact[min(before.count(content), len(exact) - 1)]
        col = tlines[n - 1].find(content) + 1 + min(offset, len(content))
        width = span.end_column - span.column if span.end_line == span.line else len(content) - offset
        return Span(n, col, n, col + max(width, 1))
    key = _key(content)
    if not key:
        return None
    same_key = [n for n in window if _key(_norm(tlines[n - 1])) == key]
    if not same_key:
        return None
    n = same_key[min(sum(1 for b in before if _key(b) == key), len(same_key) - 1)]
    col = tlines[n - 1].find(key) + 1
    return Span.point(n, col, len(key))


def _document_start(lines: list[str], first: int, last: int) -> Span:
    """The first ``apiVersion:``/``kind:`` line of a template segment, else its first content line."""
    fallback = None
    for n in range(first, min(last, len(lines)) + 1):
        text = lines[n - 1].strip()
        if text.startswith(("apiVersion:", "kind:")):
            return Span.point(n, lines[n - 1].find(text) + 1, len(_key(text)) or 1)
        if fallback is None and text and not text.startswith(("#", "{{", "---")):
            fallback = Span.point(n, lines[n - 1].find(text) + 1)
    return fallback or Span.point(first if first <= len(lines) else 1, 1)


def _segments(lines: list[str]) -> list[tuple[int, int]]:
    """The ``---``-separated parts of a template that hold more than template actions and comments."""
    out: list[tuple[int, int]] = []
    start = 1
    for n in range(1, len(lines) + 2):
        if n == len(lines) + 1 or _DOC_SEPARATOR_RE.match(lines[n - 1]):
            body = [t.strip() for t in lines[start - 1 : n - 1]]
            if any(t and not t.startswith("#") and not (t.startswith("{{") and t.endswith("}}")) for t in body):
                out.append((start, n - 1))
            start = n + 1
    return out


# --------------------------------------------------------------------------------------------
# Running the tools
# --------------------------------------------------------------------------------------------


def _sandbox(home: str) -> dict[str, str]:
    """The environment of a tool run: nothing of the user's configuration, plugins or network."""
    for name in ("config", "cache", "data", "plugins"):
        os.makedirs(os.path.join(home, name), exist_ok=True)
    kubeconfig = os.path.join(home, "kubeconfig")
    with open(kubeconfig, "w", encoding="utf-8"):
        pass
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "LANG": "C.UTF-8",
        "TMPDIR": home,
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "XDG_CACHE_HOME": os.path.join(home, "cache"),
        "XDG_DATA_HOME": os.path.join(home, "data"),
        "HELM_CONFIG_HOME": os.path.join(home, "config", "helm"),
        "HELM_CACHE_HOME": os.path.join(home, "cache", "helm"),
        "HELM_DATA_HOME": os.path.join(home, "data", "helm"),
        "HELM_PLUGINS": os.path.join(home, "plugins"),
        "HELM_NO_PLUGINS": "1",
        "HELM_REPOSITORY_CONFIG": os.path.join(home, "config", "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": os.path.join(home, "cache", "repository"),
        "HELM_REGISTRY_CONFIG": os.path.join(home, "config", "registry.json"),
        "KUBECONFIG": kubeconfig,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": "file",
        "GIT_TERMINAL_PROMPT": "0",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = _NO_NETWORK_PROXY
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


def _run(
    cmd: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float, max_bytes: int
) -> tuple[str | None, str]:
    """Run ``cmd``; (stdout, "") on success, (None, why) on failure. Output above ``max_bytes`` is refused."""
    out_path = os.path.join(cwd, "stdout")
    try:
        with open(out_path, "wb") as out:
            proc = subprocess.run(  # a tool found on PATH; the arguments are paths
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=dict(env),
                timeout=timeout,
                check=False,
            )
    except subprocess.TimeoutExpired:
        return None, f"`{_shown(cmd)}` did not finish within {timeout:g} seconds"
    except OSError as exc:
        return None, f"cannot run `{_shown(cmd)}`: {exc.strerror or exc}"
    size = os.path.getsize(out_path)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("Use --debug flag")]
        detail = " ".join(lines[-3:])[:600] or f"exit code {proc.returncode}"
        return None, f"`{_shown(cmd)}` failed: {detail}"
    if size > max_bytes:
        return None, f"`{_shown(cmd)}` wrote {size:,} bytes, above the {max_bytes:,}-byte file limit"
    with open(out_path, "rb") as fh:
        text, message, _ = decode(fh.read())
    if text is None:
        return None, f"`{_shown(cmd)}` wrote output that is not text: {message}"
    return text, ""


def _shown(cmd: Sequence[str]) -> str:
    return " ".join([os.path.basename(cmd[0]), *cmd[1:2]])


def _release_name(chart: str) -> str:
    """The chart's name as a release name (``{{ .Release.Name }}``), else ``release``."""
    try:
        with open(os.path.join(chart, "Chart.yaml"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                match = re.match(r"name:\s*['\"]?([a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?)['\"]?\s*$", line)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return "release"


def values_for(chart: str, settings: RenderSettings) -> list[str]:
    """The value files configured for a chart folder (keys: folders or globs as audited; files: from the chart)."""
    shown = display_path(chart).rstrip("/")
    out: list[str] = []
    for pattern, files in settings.helm_values.items():
        pat = pattern.rstrip("/") or "."
        if shown == pat or fnmatch.fnmatch(shown, pat) or os.path.normpath(chart) == os.path.normpath(pat):
            out.extend(os.path.join(chart, f) for f in files)
    return out


# --------------------------------------------------------------------------------------------
# Kustomize: which kustomizations to render and which files they use
# --------------------------------------------------------------------------------------------


#: Kustomization files read (by their bytes): planning, each overlay's inputs and its build read the
#: same few files again and again. The data is only read, never changed. Emptied past a bound.
_KUSTOMIZATIONS: dict[bytes, Any] = {}


def _read_yaml(path: str) -> Any:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
    except OSError:
        return None
    if raw in _KUSTOMIZATIONS:
        return _KUSTOMIZATIONS[raw]
    from ruamel.yaml import YAML

    try:
        data = YAML(typ="safe", pure=True).load(raw)
    except Exception:  # kustomize reports a broken file itself when rendering
        data = None
    if len(_KUSTOMIZATIONS) >= 1_000:
        _KUSTOMIZATIONS.clear()
    _KUSTOMIZATIONS[raw] = data
    return data


def _references(data: Any) -> tuple[list[str], list[str]]:
    """(folders or files it builds from, files it reads) named by a kustomization."""
    if not isinstance(data, dict):
        return [], []
    builds: list[str] = []
    reads: list[str] = []

    def strings(value: Any) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    for key in ("resources", "bases", "components"):
        builds += strings(data.get(key))
    for key in ("crds", "configurations", "transformers", "generators", "validators"):
        reads += [v for v in strings(data.get(key)) if "\n" not in v]
    reads += [v for v in strings(data.get("patchesStrategicMerge")) if "\n" not in v]
    for key in ("patches", "patchesJson6902", "replacements"):
        for item in data.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                reads.append(item["path"])
    for key in ("configMapGenerator", "secretGenerator"):
        for item in data.get(key) or []:
            if not isinstance(item, dict):
                continue
            for entry in strings(item.get("files")):
                reads.append(entry.split("=", 1)[1] if "=" in entry else entry)
            reads += strings(item.get("envs"))
            if isinstance(item.get("env"), str):
                reads.append(item["env"])
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        reads.append(openapi["path"])
    return builds, reads


@dataclass
class KustomizePlan:
    roots: list[str]  # folders to render
    consumed: set[str]  # real paths of files the rendered ones use (not audited on their own)
    problems: list[LoadProblem]


Closure = tuple[set[str], set[str], list[str]]


def _visit(folder: str, stack: frozenset[str], closure: dict[str, Closure]) -> Closure:
    """The folders (real paths) a kustomization builds from, itself included, the files it reads and the
    remote references; memoized in ``closure``."""
    real = os.path.realpath(folder)
    if real in closure:
        return closure[real]
    dirs, files, remote = {real}, set(), []
    closure[real] = (dirs, files, remote)
    kfile = kustomization_file(folder)
    if kfile is None or real in stack:
        return closure[real]
    files.add(os.path.realpath(kfile))
    builds, reads = _references(_read_yaml(kfile))
    for ref in builds + reads:
        if _REMOTE_RE.search(ref):
            remote.append(ref)
            continue
        target = os.path.normpath(os.path.join(folder, ref))
        if ref in builds and os.path.isdir(target):
            sub_dirs, sub_files, sub_remote = _visit(target, stack | {real}, closure)
            dirs |= sub_dirs
            files |= sub_files
            remote += sub_remote
        elif os.path.isfile(target):
            files.add(os.path.realpath(target))
    return closure[real]


def plan_kustomize(folders: Sequence[str]) -> KustomizePlan:
    """Render the kustomizations no other one uses; skip the files they use; refuse remote ones."""
    closure: dict[str, Closure] = {}  # real folder -> (folders, files, remote refs)
    folders = list({os.path.realpath(f): f for f in folders}.values())
    for folder in folders:
        _visit(folder, frozenset(), closure)
    used: set[str] = set()
    for folder in folders:
        used |= closure[os.path.realpath(folder)][0] - {os.path.realpath(folder)}
    plan = KustomizePlan([], set(), [])
    for folder in folders:
        real = os.path.realpath(folder)
        if real in used:
            continue
        kfile = kustomization_file(folder)
        data = _read_yaml(kfile) if kfile else None
        if isinstance(data, dict) and data.get("kind") == "Component":
            continue  # only built as part of another kustomization
        _, files, remote = closure[real]
        if remote:
            plan.problems.append(
                LoadProblem(
                    SourceFile(display_path(kfile or folder), None),
                    Span.point(1, 1),
                    f"kustomization not rendered: it uses remote {remote[0]!r}, which would be fetched over the "
                    "network; its files are audited as they are",
                    "render",
                    "vendor the remote base into the repository, or render it yourself: "
                    "`kustomize build DIR | audit -`",
                )
            )
            continue
        plan.roots.append(folder)
        plan.consumed |= files
    return plan


# --------------------------------------------------------------------------------------------
# Rendering a folder into the load result
# --------------------------------------------------------------------------------------------


class _Sources:
    """Source files of one run, read once and listed once in the load result."""

    def __init__(self, result: LoadResult, limits: Limits) -> None:
        self.result = result
        self.limits = limits
        self.known = {f.path for f in result.files}
        self.files: dict[str, SourceFile] = {}

    def get(self, path: str) -> SourceFile | None:
        real = os.path.realpath(path)
        if real in self.files:
            return self.files[real]
        try:
            with open(real, "rb") as fh:
                text, _, _ = decode(fh.read(self.limits.max_file_bytes))
        except OSError:
            return None
        file = SourceFile(display_path(path), real, text)
        self.files[real] = file
        if file.path not in self.known:
            self.known.add(file.path)
            self.result.files.append(file)
        return file

    def release(self) -> None:
        for file in self.files.values():
            file.release()


def load_rendered(
    result: LoadResult,
    candidate: Candidate,
    settings: RenderSettings,
    known_kinds: frozenset[str],
    limits: Limits,
    pure: bool = False,
    cache: ParseCache | None = None,
    prefetch: _Prefetch | None = None,
) -> None:
    """Render the chart or kustomization ``candidate`` and add its documents (or a problem) to ``result``.

    With a ``cache``, a rendering whose inputs did not change since a run that kept it is not run again
    (see :func:`_inputs_key`).
    """
    sources = _Sources(result, limits)
    job = _Job(result, find_tools(), settings, known_kinds, limits, pure, sources, cache, prefetch)
    try:
        if candidate.render == "helm":
            _load_helm(job, candidate.path)
        else:
            _load_kustomize(job, candidate.path)
    finally:
        if job.scratch is not None:
            shutil.rmtree(job.scratch, ignore_errors=True)
        sources.release()


@dataclass
class _Job:
    """One folder's rendering: where its documents go, the tools, the settings and a scratch HOME."""

    result: LoadResult
    tools: Tools
    settings: RenderSettings
    known_kinds: frozenset[str]
    limits: Limits
    pure: bool
    sources: _Sources
    cache: ParseCache | None = None
    prefetch: _Prefetch | None = None
    scratch: str | None = None  # the scratch HOME, made when a tool first runs (none when all comes from the cache)

    @property
    def home(self) -> str:
        if self.scratch is None:
            self.scratch = tempfile.mkdtemp(prefix="calico-audit-render-")
        return self.scratch

    def key(self, cmd: Sequence[str], dirs: set[str], files: set[str]) -> str | None:
        if self.cache is None:
            return None
        return _inputs_key(cmd, dirs, files, self.limits.max_file_bytes, self.settings.timeout)

    def cached(self, key: str | None) -> Rendered | None:
        return self.cache.get_rendered(key) if self.cache is not None and key is not None else None

    def keep(self, key: str | None, value: Rendered) -> None:
        if self.cache is not None and key is not None:
            self.cache.put_rendered(key, value)

    def run(self, cmd: Sequence[str]) -> tuple[str | None, str]:
        return _run(cmd, _sandbox(self.home), self.home, self.settings.timeout, self.limits.max_file_bytes)

    def parse(self, file: SourceFile) -> tuple[list[Document], list[LoadProblem]]:
        return parse_text(file, self.limits, self.pure)

    def parse_output(self, file: SourceFile) -> tuple[list[Document], list[LoadProblem]]:
        """The rendered output's documents: through the cache, by its text, when there is one (a warm run
        takes the output from the cache, and then its parse too)."""
        return parse_text_cached(file, self.limits, self.pure, self.cache)

    def parse_source(self, file: SourceFile) -> list[Document]:
        """The documents of a source file of a rendering (through the cache of parsed files, when there is one)."""
        if file.text is None:
            return []
        if self.cache is None:
            return parse_text(file, self.limits, self.pure)[0]
        return parse_cached(file, self.limits, self.pure, self.cache)[0]

    def fail(self, path: str, message: str, hint: str = "") -> None:
        self.result.problems.append(_problem(self.sources, path, message, hint))


def _problem(sources: _Sources, path: str, message: str, hint: str = "") -> LoadProblem:
    file = sources.get(path) or SourceFile(display_path(path), None)
    return LoadProblem(file, Span.point(1, 1), message, "render", hint)


def _rendered_file(folder: str, tool: str, text: str) -> SourceFile:
    file = SourceFile(f"{display_path(folder).rstrip('/')} ({tool})", None, text)
    file.has_directive = False  # its comments are the sources' comments, collected there
    return file


def _load_helm(job: _Job, chart: str) -> None:
    chart_yaml = os.path.join(chart, "Chart.yaml")
    if job.tools.helm is None:  # pragma: no cover - discovery checked it
        job.fail(chart_yaml, "Helm chart not rendered: helm is not on PATH", HELM_HINT)
        return
    values = values_for(chart, job.settings)
    for path in values:
        if not os.path.isfile(path):
            where = f"value file {display_path(path)} not found (helm-values in the configuration)"
            job.fail(chart_yaml, f"Helm chart not rendered: {where}")
            return
    cmd = [job.tools.helm, "template", _release_name(chart), os.path.abspath(chart), "--include-crds"]
    for path in values:
        cmd += ["--values", os.path.abspath(path)]
    key = job.key(cmd, {os.path.realpath(chart)}, {os.path.realpath(v) for v in values})
    hit = job.cached(key)
    if hit is not None:
        text: str | None = hit[0]
    else:
        text, error = job.run(cmd)
        if text is None:
            hint = "vendor the dependencies into charts/ (`helm dependency build`)" if "dependenc" in error else ""
            job.fail(chart_yaml, f"Helm chart could not be rendered: {error}", hint)
            return
        job.keep(key, (text, []))
    sources = job.sources
    chart_file = sources.get(chart_yaml) or SourceFile(display_path(chart_yaml), None)
    rendered = _rendered_file(chart, "helm template", text)
    job.result.files.append(rendered)
    docs, problems = job.parse_output(rendered)
    root = os.path.realpath(chart)
    seen: dict[str, int] = {}
    per_source: dict[str, int] = {}
    sources_of = [_source_comment(rendered.lines, doc.root_span().line) for doc in docs]
    for name in sources_of:
        per_source[name] = per_source.get(name, 0) + 1
    placed: list[Document] = []
    for doc, name in zip(docs, sources_of, strict=True):
        template = None
        segment = None
        if name:
            target = os.path.realpath(os.path.join(chart, *name.split("/")[1:]))
            if target.startswith(root + os.sep) and os.path.isfile(target):
                template = sources.get(target)
        if template is not None:
            nth = seen.get(name, 0)
            seen[name] = nth + 1
            parts = _segments(template.lines)
            if len(parts) == per_source[name] and nth < len(parts):
                segment = parts[nth]
        placed.append(RenderedDocument(doc, HelmOrigin(template, chart_file, segment)))
    add_documents(job.result, placed, problems, job.known_kinds)


def _source_comment(lines: list[str], first: int) -> str:
    """The ``# Source: chart/templates/x.yaml`` line above a document's first key."""
    for n in range(min(first, len(lines)), 0, -1):
        match = _SOURCE_RE.match(lines[n - 1])
        if match:
            return match.group(1)
        if _DOC_SEPARATOR_RE.match(lines[n - 1]):
            break
    return ""


def _load_kustomize(job: _Job, folder: str) -> None:
    """Build ``folder`` once, with kustomize's origin annotations (see :func:`_build_with_origins`); the
    audited output is that build without them, as a plain build writes it."""
    kfile = kustomization_file(folder) or os.path.join(folder, "kustomization.yaml")
    if job.tools.kustomize is None:  # pragma: no cover - discovery checked it
        job.fail(kfile, "kustomization not rendered: no kustomize", KUSTOMIZE_HINT)
        return
    dirs, files, _ = _visit(folder, frozenset(), {})
    key = job.key([*job.tools.kustomize, os.path.abspath(folder)], dirs, files)
    hit = job.cached(key)
    built = None if hit is not None or _sets_build_metadata(folder) else _build_with_origins(job, folder)
    if hit is not None:
        rendered = _rendered_file(folder, "kustomize build", hit[0])
        docs, problems = job.parse_output(rendered)
        origins = {(kind, namespace, name): path for kind, namespace, name, path in hit[1]}
    elif built is None:  # the plain build, and (for the places) the annotated one: two runs
        text, error = job.run([*job.tools.kustomize, os.path.abspath(folder)])
        if text is None:
            job.fail(kfile, f"kustomization could not be rendered: {error}")
            return
        annotated, _, wrapper = _origins_build(job, folder)
        origins = _origins(job, annotated, wrapper)[0] if annotated is not None else {}
        rendered = _rendered_file(folder, "kustomize build", text)
        docs, problems = job.parse_output(rendered)
    else:
        rendered, docs, problems, origins = built
    if hit is None and rendered.text is not None:
        job.keep(key, (rendered.text, [(*k, path) for k, path in origins.items()]))
    job.result.files.append(rendered)
    parsed: dict[str, list[Document]] = {}
    placed: list[Document] = []
    for doc in docs:
        key = _object_key(doc.data)
        source_path = origins.get(key, kfile) if key else kfile
        file = job.sources.get(source_path) or job.sources.get(kfile) or SourceFile(display_path(kfile), None)
        source, base, exact = _matching_resource(file, key, parsed, job.parse_source)
        placed.append(RenderedDocument(doc, KustomizeOrigin(file, source, base, exact)))
    add_documents(job.result, placed, problems, job.known_kinds)


#: Folders whose content no rendering reads (version control, caches: this tool's own among them).
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".calico-audit-cache", "__pycache__", "node_modules", ".venv"})
_SOURCE_DIGEST: list[bytes] = []


def _inputs_key(cmd: Sequence[str], dirs: set[str], files: set[str], max_bytes: int, timeout: float) -> str | None:
    """A digest of everything a rendering reads, or None (no caching) when that cannot be told.

    Helm reads the chart folder and the value files; kustomize (whose default load restrictor keeps it
    inside the kustomization roots) the folders of the kustomizations it builds and the files they
    name. The digest covers the name and content of every file under those folders (but version
    control and cache folders), the files named, the command, the binary (path, size, modification
    time, inode), the limits and this module's source, so a rendering is only reused when running the
    tool again would read exactly the same bytes with the same program.
    """
    if not _SOURCE_DIGEST:
        try:
            with open(__file__, "rb") as fh:
                _SOURCE_DIGEST.append(hashlib.blake2b(fh.read(), digest_size=16).digest())
        except (OSError, TypeError):
            _SOURCE_DIGEST.append(b"")
    digest = hashlib.blake2b(digest_size=20)
    try:
        binary = os.stat(os.path.realpath(cmd[0]))
        head = (list(cmd), binary.st_size, binary.st_mtime_ns, binary.st_ino, max_bytes, timeout)
        digest.update(repr(head).encode("utf-8", "surrogateescape"))
        digest.update(_SOURCE_DIGEST[0])
        paths: set[str] = set(files)
        walked: set[str] = set()
        for folder in dirs:
            for root, subdirs, names in os.walk(folder, followlinks=True):
                real = os.path.realpath(root)
                if real in walked:  # (a symbolic link back up the tree)
                    subdirs[:] = []
                    continue
                walked.add(real)
                subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
                paths.update(os.path.join(root, name) for name in names)
                if len(paths) > _MAX_KEYED_FILES:
                    return None
        for path in sorted(paths):
            info = os.stat(path)
            digest.update(b"\0" + path.encode("utf-8", "surrogateescape") + b"\0")
            if not stat.S_ISREG(info.st_mode):
                return None  # a FIFO or a device: not read here
            with open(path, "rb") as fh:
                digest.update(hashlib.blake2b(fh.read(), digest_size=20).digest())
    except (OSError, ValueError):  # a file vanished, a FIFO, a loop...: render without the cache
        return None
    return digest.hexdigest()


#: A rendering that reads more files than this (a kustomization at the root of a large tree) is not cached.
_MAX_KEYED_FILES = 20_000


def _object_key(data: Any) -> tuple[str, str, str] | None:
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        return None
    meta = data["metadata"]
    return str(data.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", ""))


ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_ORIGIN_LINE_RE = re.compile(r"^( *)" + re.escape(ORIGIN_ANNOTATION) + r":")
_ANNOTATIONS_LINE_RE = re.compile(r"^( *)annotations:\s*$")
Origins = dict[tuple[str, str, str], str]


def _origins_build(job: _Job, folder: str) -> tuple[str | None, str, str]:
    """``folder`` built with kustomize's origin annotations (see :func:`_annotated_build`), started
    early by the prefetch when it was."""
    if job.prefetch is not None:
        found = job.prefetch.take(folder, job.limits.max_file_bytes)
        if found is not None:
            return found
    assert job.tools.kustomize is not None
    return _annotated_build(job.tools.kustomize, job.settings, job.home, folder, job.limits.max_file_bytes)


def _annotated_build(
    kustomize: tuple[str, ...], settings: RenderSettings, home: str, folder: str, max_bytes: int
) -> tuple[str | None, str, str]:
    """(output, error, wrapper folder): ``folder`` built by a throwaway kustomization in the scratch
    ``home`` that asks for kustomize's origin annotations (``buildMetadata: [originAnnotations]``):
    the repository is never modified. Origin paths in the output are relative to the wrapper folder."""
    wrapper = os.path.join(home, "origins")
    os.makedirs(wrapper, exist_ok=True)
    relative = os.path.relpath(os.path.abspath(folder), wrapper)
    with open(os.path.join(wrapper, "kustomization.yaml"), "w", encoding="utf-8") as fh:
        fh.write(f"buildMetadata: [originAnnotations]\nresources:\n- {json.dumps(relative)}\n")
    text, error = _run([*kustomize, wrapper], _sandbox(home), home, settings.timeout, max_bytes)
    return text, error, wrapper


class _Prefetch:
    """Annotated kustomize builds started as soon as the plan is known, a few at a time on threads
    (the tool runs in its own process: the builds overlap with parsing, and with each other). Each
    build has its own scratch HOME; a build whose output the cache holds is not started."""

    def __init__(
        self, tools: Tools, settings: RenderSettings, cache: ParseCache | None, max_bytes: int, folders: list[str]
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        assert tools.kustomize is not None
        self.kustomize = tools.kustomize
        self.settings = settings
        self.cache = cache
        self.max_bytes = max_bytes
        self.pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="render")
        self.futures = {os.path.abspath(f): self.pool.submit(self._build, f) for f in folders}
        self.pool.shutdown(wait=False)  # (the threads end when the last build is done)

    def _build(self, folder: str) -> tuple[str | None, str, str] | None:
        if self.cache is not None:
            dirs, files, _ = _visit(folder, frozenset(), {})
            cmd = [*self.kustomize, os.path.abspath(folder)]
            key = _inputs_key(cmd, dirs, files, self.max_bytes, self.settings.timeout)
            if key is not None and self.cache.has_rendered(key):
                return None  # rendered before: load_rendered takes it from the cache
        home = tempfile.mkdtemp(prefix="calico-audit-render-")
        try:
            return _annotated_build(self.kustomize, self.settings, home, folder, self.max_bytes)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def close(self) -> None:
        """Cancel the builds not started; wait for the running ones (a build whose output the cache
        holds ends at once)."""
        pending = list(self.futures.values())
        self.futures.clear()
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                with contextlib.suppress(Exception):
                    future.result()

    def take(self, folder: str, max_bytes: int) -> tuple[str | None, str, str] | None:
        """The build of ``folder`` started early (waiting for it), or None when there is none to use."""
        future = self.futures.pop(os.path.abspath(folder), None)
        if future is None or max_bytes != self.max_bytes:
            return None
        try:
            return future.result()
        except Exception:  # (a scratch folder that could not be made...): built again, in the calling thread
            return None


def _origins(job: _Job, text: str, wrapper: str) -> tuple[Origins, list[Document]]:
    """Object -> the file it came from, from the annotations of an annotated build; and its documents."""
    docs, _ = job.parse(SourceFile("origins", None, text))
    out: Origins = {}
    for doc in docs:
        key = _object_key(doc.data)
        if key is None:
            continue
        annotations = doc.data["metadata"].get("annotations")
        origin = annotations.get(ORIGIN_ANNOTATION) if isinstance(annotations, dict) else None
        if not isinstance(origin, str):
            continue
        match = re.search(r"^(?:path|configuredIn):\s*(\S.*?)\s*$", origin, re.M)
        if match and not re.search(r"^repo:", origin, re.M):
            out[key] = os.path.normpath(os.path.join(wrapper, match.group(1)))
    return out, docs


def _build_with_origins(job: _Job, folder: str) -> tuple[SourceFile, list[Document], list[LoadProblem], Origins] | None:
    """One kustomize run instead of two: the annotated build, and the plain build cut out of it.

    The plain output is the annotated one without the ``config.kubernetes.io/origin`` annotation lines
    (and an ``annotations:`` key left empty by that). The cut text is checked to parse to exactly the
    annotated documents minus that annotation; None (the caller then runs both builds) when the build
    fails or the check does not hold, so the result is always what the two runs give.
    """
    annotated, _, wrapper = _origins_build(job, folder)
    if annotated is None:
        return None
    origins, annotated_docs = _origins(job, annotated, wrapper)
    rendered = _rendered_file(folder, "kustomize build", _without_origins(annotated))
    docs, problems = job.parse_output(rendered)
    if len(docs) != len(annotated_docs):
        return None
    for doc, source in zip(docs, annotated_docs, strict=True):
        if doc.data != _strip_origin(source.data):
            return None
    return rendered, docs, problems, origins


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _without_origins(text: str) -> str:
    """``text`` without the origin annotations kustomize wrote (key and block), and without an
    ``annotations:`` line that has nothing left under it."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _ORIGIN_LINE_RE.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent = len(match.group(1))
        i += 1
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
            i += 1
        head = _ANNOTATIONS_LINE_RE.match(out[-1]) if out else None
        if head is not None and (i == len(lines) or _indent(lines[i]) <= len(head.group(1))):
            out.pop()  # the origin was its only annotation
    return "".join(out)


def _strip_origin(data: Any) -> Any:
    """A rendered object as the plain build writes it: without the origin annotation."""
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        return data
    annotations = data["metadata"].get("annotations")
    if not isinstance(annotations, dict) or ORIGIN_ANNOTATION not in annotations:
        return data
    rest = {k: v for k, v in annotations.items() if k != ORIGIN_ANNOTATION}
    meta = {k: v for k, v in data["metadata"].items() if k != "annotations"}
    if rest:
        meta["annotations"] = rest
    return {**data, "metadata": meta}


def _sets_build_metadata(folder: str) -> bool:
    """True when a kustomization that ``folder`` builds from asks for build metadata itself: its own
    annotations are then in the plain build too, and cannot be told from the ones asked for here."""
    seen: set[str] = set()
    todo = [folder]
    while todo:
        current = todo.pop()
        real = os.path.realpath(current)
        kfile = kustomization_file(current)
        if real in seen or kfile is None:
            continue
        seen.add(real)
        data = _read_yaml(kfile)
        if isinstance(data, dict) and "buildMetadata" in data:
            return True
        builds, _ = _references(data)
        todo += [os.path.join(current, ref) for ref in builds if not _REMOTE_RE.search(ref)]
    return False


def _matching_resource(
    file: SourceFile,
    key: tuple[str, str, str] | None,
    parsed: dict[str, list[Document]],
    parse: Callable[[SourceFile], list[Document]],
) -> tuple[Document | None, PathT, bool]:
    """The resource in ``file`` that a rendered object came from: same kind, and its name inside the new name
    (kustomize adds prefixes and suffixes); else the file's first document, as a whole (False)."""
    docs = parsed.get(file.path)
    if docs is None:
        docs = parsed[file.path] = parse(file)
    if not docs:
        return None, (), False
    if key is not None:
        kind, _, name = key
        best: tuple[int, Document, PathT] | None = None
        for doc in docs:
            found, _ = resources_of(doc, frozenset())
            for raw in found:
                if raw.data.get("kind") != kind:
                    continue
                meta = raw.data.get("metadata")
                own = str(meta.get("name", "")) if isinstance(meta, dict) else ""
                score = 3 if own == name else 2 if own and own in name else 1
                if best is None or score > best[0]:
                    best = (score, raw.doc, raw.base)
        if best is not None:
            return best[1], best[2], True
    return docs[0], (), False
