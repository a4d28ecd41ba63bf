"""Finding the files: folders walked for YAML and JSON, skipped folders, excludes, symlinks, charts."""

from __future__ import annotations

import fnmatch
import functools
import os
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from auditor.findings import Span
from auditor.load.compose import TEMPLATE_HINT
from auditor.load.decode import decode
from auditor.load.document import LoadResult
from auditor.load.source import Limits, LoadProblem, SourceFile


class Renderer(Protocol):
    """What discovery asks of Helm/kustomize rendering (:class:`auditor.render.Renderer` is one): the
    loader never imports the renderer; a run hands it one."""

    enabled: bool
    helm_hint: str
    kustomize_hint: str

    def can_render_helm(self) -> bool: ...

    def can_render_kustomize(self) -> bool: ...

    def is_chart(self, folder: str) -> bool: ...

    def kustomization_file(self, folder: str) -> str | None: ...

    def plan_kustomize(self, folders: list[str]) -> Any: ...

    def load_rendered(
        self, result: LoadResult, candidate: Candidate, known_kinds: frozenset[str], limits: Limits, pure: bool
    ) -> None: ...

    def finish(self) -> None: ...


YAML_SUFFIXES = (".yaml", ".yml", ".json")

#: Folders never descended into: version control and tool caches.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".bzr",
        "_darcs",
        ".jj",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".terraform",
        ".idea",
        ".calico-audit-cache",
        ".direnv",
        ".eggs",
    }
)


def display_path(path: str) -> str:
    """Relative to the working directory when below it, always with ``/``."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        rel = path
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.abspath(path)
    return rel.replace(os.sep, "/")


def _child_display(shown_folder: str, full: str, name: str) -> str:
    """``display_path(full)`` for ``full = os.path.join(folder, name)``, an entry of a folder shown as
    ``shown_folder`` (``name``: no separator, not ``.`` or ``..``). A folder shown relative is at or
    below the working directory, and so is its entry: the two join (relpath is lexical). A folder
    shown absolute may hold the working directory: its entries are worked out in full."""
    if shown_folder == ".":
        return name
    if shown_folder.startswith("/"):
        return display_path(full)
    return f"{shown_folder}/{name}"


@dataclass
class Candidate:
    path: str  # path as found (for display)
    real: str | None  # resolved path, None for stdin
    explicit: bool = False
    render: str = ""  # "helm" or "kustomize": a folder to render (auditor.render) instead of a file
    shown: str = ""  # display_path(path), when discovery knew it already
    size: int = -1  # the size discovery saw (a stat it made anyway), -1 when unknown


def excluded(rel: str, name: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        pat = pattern.rstrip("/")
        if fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*"):
            return True
        if pat.startswith("**/") and fnmatch.fnmatch(rel, pat[3:]):
            return True
    return False


def discover(
    paths: Iterable[str],
    exclude: Iterable[str] = (),
    limits: Limits | None = None,
    render: Renderer | None = None,
) -> tuple[list[Candidate], list[LoadProblem]]:
    """Expand files and folders to the list of files to read, in a stable order.

    Folders are walked recursively for ``*.yaml``, ``*.yml`` and ``*.json``; VCS and tool folders
    are skipped; symlink loops, unreadable folders and links leaving the given roots are reported.
    Helm charts and kustomizations become folders to render when the tools are on PATH (their
    files are then not read on their own); see :mod:`auditor.render`.
    Raises FileNotFoundError for a path that does not exist (a usage error).
    """
    limits = limits or Limits()
    rendering = render
    kustomizations: list[str] = []
    exclude = list(exclude)
    found: list[Candidate] = []
    problems: list[LoadProblem] = []
    seen_real: set[str] = set()
    roots = [os.path.realpath(p) for p in paths if p != "-"]

    def inside_roots(real: str) -> bool:
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    def add(path: str, explicit: bool, real: str | None = None, shown: str = "", size: int = -1) -> None:
        if real is None:
            real = os.path.realpath(path)
        if real in seen_real:
            return
        seen_real.add(real)
        found.append(Candidate(path, real, explicit, shown=shown, size=size))

    def add_regular(
        path: str, explicit: bool, status: Callable[[], os.stat_result], real: str | None = None, shown: str = ""
    ) -> None:
        """Add a regular file; a FIFO, a device or a file that cannot be read is reported instead."""
        try:
            info = status()
        except OSError as exc:
            problems.append(fs_problem(path, f"cannot read: {exc.strerror or exc}", "unreadable"))
            return
        if stat.S_ISREG(info.st_mode):
            add(path, explicit, real, shown, info.st_size)
        else:
            problems.append(fs_problem(path, "not a regular file (a FIFO or device?), skipped", "unreadable"))

    def walk(top: str, active: set[str], real_top: str, shown_top: str) -> None:
        """Walk folder ``top`` (resolved: ``real_top``; shown as ``shown_top``). An entry that is no
        symbolic link resolves to ``real_top/name``, and shows as ``shown_top/name``."""
        separator = os.sep == "/"  # (elsewhere the paths are worked out in full, as they are given)
        if rendering is not None and rendering.enabled and rendering.is_chart(top) and rendering.can_render_helm():
            real_top = os.path.realpath(top)
            if real_top not in seen_real:
                seen_real.add(real_top)
                found.append(Candidate(top, real_top, render="helm"))
            return
        if rendering is not None and rendering.enabled and rendering.kustomization_file(top):
            if rendering.can_render_kustomize():
                kustomizations.append(top)
            else:
                problems.append(
                    fs_problem(
                        rendering.kustomization_file(top) or top,
                        "kustomization not rendered: its files are audited as they are",
                        "render-unavailable",
                        rendering.kustomize_hint,
                    )
                )
        try:
            with os.scandir(top) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(fs_problem(top, f"cannot read folder: {exc.strerror or exc}", "unreadable"))
            return
        for entry in entries:
            full = os.path.join(top, entry.name)
            rel = _child_display(shown_top, full, entry.name) if separator else display_path(full)
            if excluded(rel, entry.name, exclude):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_link, is_dir = True, False
            if is_link:
                real = os.path.realpath(full)
                if not os.path.exists(real):
                    if entry.name.endswith(YAML_SUFFIXES):
                        problems.append(fs_problem(full, "dangling symlink: its target does not exist", "symlink"))
                    continue
                if not inside_roots(real) and not limits.follow_symlinks_outside:
                    if is_dir or entry.name.endswith(YAML_SUFFIXES):
                        problems.append(
                            fs_problem(
                                full,
                                "symlink to a path outside the audited folders, not followed "
                                "(use --follow-symlinks to allow it)",
                                "symlink",
                            )
                        )
                    continue
            if is_dir:
                if entry.name in SKIP_DIRS:
                    continue
                if entry.name == "templates" and os.path.isfile(os.path.join(top, "Chart.yaml")):
                    problems.append(
                        fs_problem(
                            full,
                            "Helm chart templates are not manifests until rendered; folder skipped",
                            "helm-templates",
                            _helm_hint(rendering),
                        )
                    )
                    continue
                real = os.path.realpath(full) if is_link or not separator else os.path.join(real_top, entry.name)
                if real in active:
                    problems.append(fs_problem(full, "symlink loop: this folder contains itself", "symlink"))
                    continue
                walk(full, active | {real}, real, rel)
            elif entry.name.endswith(YAML_SUFFIXES):
                real = None if is_link or not separator else os.path.join(real_top, entry.name)
                add_regular(full, False, functools.partial(entry.stat, follow_symlinks=True), real, rel)

    for path in paths:
        if path == "-":
            found.append(Candidate("-", None, True))
            continue
        if not os.path.lexists(path):
            raise FileNotFoundError(path)
        if os.path.isdir(path):
            real = os.path.realpath(path)
            walk(path, {real}, real, display_path(path))
        else:
            add_regular(path, True, functools.partial(os.stat, path))
    if kustomizations and rendering is not None:
        plan = rendering.plan_kustomize(kustomizations)
        problems.extend(plan.problems)
        found = [c for c in found if c.explicit or c.real not in plan.consumed]
        for folder in plan.roots:
            real = os.path.realpath(folder)
            if real not in seen_real:
                seen_real.add(real)
                found.append(Candidate(folder, real, render="kustomize"))
    return found, problems


def _helm_hint(rendering: Renderer | None) -> str:
    if rendering is None:
        return TEMPLATE_HINT
    return rendering.helm_hint if rendering.enabled else "`render = false` in the configuration"


def fs_problem(path: str, message: str, code: str, hint: str = "") -> LoadProblem:
    return LoadProblem(SourceFile(display_path(path), None), Span.point(1, 1), message, code, hint)


def size_text(size: int) -> str:
    """``20 MiB``, ``200.0 MiB``, ``1 KiB``, ``512 bytes``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def read_file(candidate: Candidate, limits: Limits, stdin_name: str = "-") -> tuple[SourceFile, LoadProblem | None]:
    """Read and decode one file, refusing files above the size limit without reading them."""
    if candidate.real is None:
        file = SourceFile(stdin_name, None)
        raw = sys.stdin.buffer.read(limits.max_file_bytes + 1)
    else:
        file = SourceFile(candidate.shown or display_path(candidate.path), candidate.real)
        try:
            size = candidate.size if candidate.size >= 0 else os.stat(candidate.real).st_size
            if size > limits.max_file_bytes:
                return file, too_large(file, size, limits)
            with open(candidate.real, "rb") as fh:
                raw = fh.read(limits.max_file_bytes + 1)
        except OSError as exc:
            return file, LoadProblem(file, Span.point(1, 1), f"cannot read: {exc.strerror or exc}", "unreadable")
    if len(raw) > limits.max_file_bytes:
        return file, LoadProblem(
            file,
            Span.point(1, 1),
            f"input is larger than the {size_text(limits.max_file_bytes)} limit; not audited",
            "too-large",
            "raise the limit with --max-file-size if this really is a manifest",
        )
    return file, decode_into(file, raw)


def too_large(file: SourceFile, size: int, limits: Limits) -> LoadProblem:
    """The problem of a file above the size limit (not read)."""
    return LoadProblem(
        file,
        Span.point(1, 1),
        f"file is {size_text(size)}, above the {size_text(limits.max_file_bytes)} limit; not read",
        "too-large",
        "raise the limit with --max-file-size if this file really is a manifest",
    )


def decode_into(file: SourceFile, raw: bytes) -> LoadProblem | None:
    """Decode ``raw`` as the text of ``file``; a binary or undecodable file is a problem instead."""
    text, message, span = decode(raw)
    if text is None:
        code = "binary" if "binary" in message else "encoding"
        return LoadProblem(file, span, message, code, "save the file as UTF-8" if code == "encoding" else "")
    file.text = text
    return None
