"""Reading the input: files, folders or in-memory blobs -> :class:`~auditor.load.document.LoadResult`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from auditor.findings import Span
from auditor.load.compose import TEMPLATE_HINT, parse_text
from auditor.load.discover import (
    SKIP_DIRS,
    YAML_SUFFIXES,
    Renderer,
    decode_into,
    discover,
    excluded,
    fs_problem,
    read_file,
    too_large,
)
from auditor.load.document import Document, LoadResult
from auditor.load.resources import resources_of
from auditor.load.source import Limits, LoadProblem, SourceFile


class ParseCache(Protocol):
    """What the loader asks of the cache of parsed files (:class:`auditor.cache.ParseCache` is one)."""

    def key(self, text: str, *parts: object) -> str: ...

    def get(self, real: str, key: str) -> Any: ...

    def put(self, real: str, key: str, value: Any) -> None: ...

    def get_text(self, key: str) -> Any: ...

    def put_text(self, key: str, value: Any) -> None: ...


def load(
    paths: Iterable[str],
    known_kinds: frozenset[str],
    exclude: Iterable[str] = (),
    limits: Limits | None = None,
    stdin_name: str = "-",
    pure: bool = False,
    render: Renderer | None = None,
    cache: ParseCache | None = None,
) -> LoadResult:
    """Load everything under ``paths``. Raises FileNotFoundError for a missing path.

    With a ``cache``, files whose text was parsed before (by the same version of the loader, with
    the same parser and limits) are not parsed again: the result is the same either way.
    """
    limits = limits or Limits()
    try:
        return _load(paths, known_kinds, exclude, limits, stdin_name, pure, render, cache)
    finally:
        if render is not None:
            render.finish()  # no tool runs on once the load is over


def _load(
    paths: Iterable[str],
    known_kinds: frozenset[str],
    exclude: Iterable[str],
    limits: Limits,
    stdin_name: str,
    pure: bool,
    render: Renderer | None,
    cache: ParseCache | None,
) -> LoadResult:
    candidates, problems = discover(paths, exclude, limits, render)
    result = LoadResult(problems=problems)
    for candidate in candidates:
        if candidate.render and render is not None:
            render.load_rendered(result, candidate, known_kinds, limits, pure)
            continue
        file, problem = read_file(candidate, limits, stdin_name)
        result.files.append(file)
        if problem is not None:
            result.problems.append(problem)
            continue
        add_file(result, file, known_kinds, limits, pure, cache)
        file.release()
    return result


def parse_cached(
    file: SourceFile, limits: Limits, pure: bool, cache: ParseCache
) -> tuple[list[Document], list[LoadProblem]]:
    """:func:`parse_text` through the on-disk cache of parsed files (see :mod:`auditor.cache`)."""
    if file.real is None:  # standard input: nothing to file it under
        return parse_text(file, limits, pure)
    key = _parse_key(file, limits, pure, cache)
    entry = cache.get(file.real, key)
    if entry is not None:
        return _from_entry(file, entry)
    docs, problems = parse_text(file, limits, pure)
    cache.put(file.real, key, _to_entry(docs, problems))
    return docs, problems


def parse_text_cached(
    file: SourceFile, limits: Limits, pure: bool, cache: ParseCache | None
) -> tuple[list[Document], list[LoadProblem]]:
    """:func:`parse_text` of a text that is no file on disk (a chart's or kustomization's rendered output),
    through the cache by the text's key alone; without a cache, :func:`parse_text` itself."""
    if cache is None:
        return parse_text(file, limits, pure)
    key = _parse_key(file, limits, pure, cache)
    entry = cache.get_text(key)
    if entry is not None:
        return _from_entry(file, entry)
    docs, problems = parse_text(file, limits, pure)
    cache.put_text(key, _to_entry(docs, problems))
    return docs, problems


def _parse_key(file: SourceFile, limits: Limits, pure: bool, cache: ParseCache) -> str:
    """The key of what parsing ``file`` gives: its text, the parser, JSON or not, and the limits."""
    return cache.key(
        file.text or "",
        "pure" if pure else "c",
        file.path.endswith(".json"),
        limits.max_depth,
        limits.max_nodes,
        limits.max_alias_nodes,
    )


def _from_entry(file: SourceFile, entry: Any) -> tuple[list[Document], list[LoadProblem]]:
    cached_docs, cached_problems = entry
    docs = [Document(file, index, data, pos) for index, data, pos in cached_docs]
    problems = [
        LoadProblem(file, Span(line, col, end_line, end_col), message, code, hint)
        for line, col, end_line, end_col, message, code, hint in cached_problems
    ]
    return docs, problems


def _to_entry(docs: list[Document], problems: list[LoadProblem]) -> Any:
    return (
        [(d.index, d.data, d.pos) for d in docs],
        [(p.span.line, p.span.column, p.span.end_line, p.span.end_column, p.message, p.code, p.hint) for p in problems],
    )


def add_file(
    result: LoadResult,
    file: SourceFile,
    known_kinds: frozenset[str],
    limits: Limits,
    pure: bool = False,
    cache: ParseCache | None = None,
) -> None:
    docs, problems = parse_text(file, limits, pure) if cache is None else parse_cached(file, limits, pure, cache)
    add_documents(result, docs, problems, known_kinds)


def add_documents(
    result: LoadResult, docs: Iterable[Document], problems: Iterable[LoadProblem], known_kinds: frozenset[str]
) -> None:
    """Add parsed documents (and their file's problems) to ``result``."""
    result.problems.extend(problems)
    for doc in docs:
        result.documents.append(doc)
        if doc.data is None:
            result.empty_documents += 1
            continue
        found, is_resource = resources_of(doc, known_kinds)
        if is_resource:
            result.resources.extend(found)
        else:
            result.skipped_documents += 1


def load_texts(
    files: Mapping[str, bytes],
    known_kinds: frozenset[str],
    exclude: Iterable[str] = (),
    limits: Limits | None = None,
    pure: bool = False,
) -> LoadResult:
    """Load in-memory files (display path -> raw bytes), such as a git revision's blobs, the way
    :func:`load` loads a folder: the same suffixes, skipped folders, ``exclude`` globs, Helm
    ``templates/`` folders, size limit and decoding. Paths use ``/``; they are shown as given."""
    limits = limits or Limits()
    exclude = list(exclude)
    result = LoadResult()
    present = set(files)
    templates: set[str] = set()
    for path in sorted(files, key=lambda p: p.split("/")):
        parts = path.split("/")
        if not parts[-1].endswith(YAML_SUFFIXES):
            continue
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        if any(part in SKIP_DIRS for part in parts[:-1]):
            continue
        if any(excluded(rel, rel.rsplit("/", 1)[-1], exclude) for rel in [*folders, path]):
            continue
        charted = [f for f in folders if f.rsplit("/", 1)[-1] == "templates"]
        chart = next((f for f in charted if f[: -len("templates")] + "Chart.yaml" in present), None)
        if chart is not None:
            if chart not in templates:
                templates.add(chart)
                result.problems.append(
                    fs_problem(chart, "Helm chart templates are not manifests until rendered; folder skipped",
                                "helm-templates", TEMPLATE_HINT)
                )
            continue
        file = SourceFile(path, None)
        raw = files[path]
        result.files.append(file)
        problem = too_large(file, len(raw), limits) if len(raw) > limits.max_file_bytes else decode_into(file, raw)
        if problem is not None:
            result.problems.append(problem)
            continue
        add_file(result, file, known_kinds, limits, pure)
    return result
