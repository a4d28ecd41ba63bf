"""One audit run: load -> model -> rules -> findings, with timings for the report."""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import hashlib
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor import catalog, suppress
from auditor.catalog import Rule
from auditor.config import Config
from auditor.context import Context
from auditor.engine import run_rules, sub_id
from auditor.findings import Finding
from auditor.load import Limits, LoadResult, SourceFile, load
from auditor.model import KNOWN_KINDS, Model, build_model
from auditor.render import Renderer, RenderSettings

if TYPE_CHECKING:
    from auditor.cache import ParseCache


@dataclass
class Stats:
    files: int = 0
    documents: int = 0
    resources: int = 0
    skipped_documents: int = 0
    empty_documents: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class ClusterRun:
    """One cluster's part of a run: its files (shared ones included), model and rule context."""

    name: str
    load: LoadResult
    model: Model
    context: Context


@dataclass
class AuditResult:
    findings: list[Finding]
    rules: tuple[Rule, ...]  # the enabled rules
    load: LoadResult
    model: Model
    config: Config
    stats: Stats
    notes: list[str] = field(default_factory=list)
    context: Context | None = None  # the rules' shared context (the evaluator, once built); the first cluster's
    clusters: list[ClusterRun] = field(default_factory=list)  # one per cluster ("" when none is configured)

    @property
    def files(self) -> dict[str, SourceFile]:
        return {f.path: f for f in self.load.files}

    def active(self) -> list[Finding]:
        """Findings that count (not suppressed)."""
        return [f for f in self.findings if f.suppression is None]

    def failing(self) -> list[Finding]:
        level = self.config.fail_on
        if level is None:
            return []
        return [f for f in self.active() if f.severity >= level]

    @property
    def internal_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.internal_error]


def enabled_rules(config: Config) -> tuple[Rule, ...]:
    """Rules picked by ``select``/``extend_select`` and not removed by ``ignore``.

    A sub-ID (``CA007/ippool-block-size``) in ``ignore`` removes only that sub-check; a rule whose
    sub-checks are all deselected is not enabled (see :func:`skipped_sub_checks`).
    """
    chosen = []
    select = [*config.select, *config.extend_select]
    for rule in catalog.all_rules():
        picked = any(catalog.matches(rule, s) for s in select)
        dropped = any(catalog.matches(rule, s) for s in config.ignore if not catalog.is_sub_selector(s))
        if rule.sub_checks and not catalog.enabled_sub_checks(rule, select, config.ignore):
            dropped = True
        if picked and not dropped:
            chosen.append(rule)
    return tuple(chosen)


class ClusterError(ValueError):
    """No one cluster to use: several are configured and none is named, or the name is unknown."""


def load_model(
    paths: Sequence[str],
    config: Config,
    limits: Limits | None = None,
    stdin_name: str = "-",
    pure: bool = False,
    cluster: str | None = None,
) -> tuple[LoadResult, Model]:
    """Load ``paths`` and build the model, running no rule (``audit trace``, the exposure map).

    With ``clusters`` configured the model is one cluster's (shared files included): ``cluster``
    names it, and must when there are several (:class:`ClusterError` otherwise).
    """
    limits = limits or Limits(max_file_bytes=config.max_file_size)
    settings = RenderSettings(enabled=config.render, helm_values=config.helm_values)
    render = Renderer(settings, max_bytes=limits.max_file_bytes)
    loaded = load(
        paths, KNOWN_KINDS, exclude=config.exclude, limits=limits, stdin_name=stdin_name, pure=pure, render=render
    )
    if config.clusters or cluster is not None:
        parts = dict(split_clusters(loaded, config))
        names = [name for name in parts if name]
        if cluster is None and len(names) > 1:
            raise ClusterError(f"which cluster? pass --cluster NAME; clusters: {', '.join(names)}")
        if cluster is not None and cluster not in names:
            known = ", ".join(names) if config.clusters else "none (clusters is not configured)"
            raise ClusterError(f"no cluster named {cluster!r}; clusters: {known}")
        loaded = parts[cluster if cluster is not None else next(iter(parts))]
    return loaded, build_model(loaded.resources, config.default_namespace)


UNSCOPED = "(unscoped)"
SHARED = "(shared)"  # the assignment of a file matching ``shared``, never a cluster name


def _matches(path: str, patterns: Sequence[str]) -> bool:
    """``path`` matches a glob, or lies in a folder that does (as ``per-path-ignores`` matches)."""
    for pattern in patterns:
        pat = pattern.removeprefix("./").rstrip("/")
        if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat + "/*"):
            return True
    return False


def cluster_of(path: str, config: Config) -> str | None:
    """The cluster a file (display path) belongs to: :data:`SHARED` for a shared file, the path of
    its shallowest folder matching a ``clusters`` glob, or None when it is in no cluster."""
    if _matches(path, config.shared):
        return SHARED
    parts = path.split("/")
    globs = [g.removeprefix("./").rstrip("/") for g in config.clusters]
    for i in range(1, len(parts)):
        folder = "/".join(parts[:i])
        if folder and any(fnmatch.fnmatch(folder, g) for g in globs):
            return folder
    return None


def split_clusters(loaded: LoadResult, config: Config) -> list[tuple[str, LoadResult]]:
    """Partition ``loaded`` into clusters, in name order with (unscoped) last.

    Without ``clusters`` configured the whole input is one cluster named "". Shared files are part
    of every cluster. Files in no cluster and not shared form :data:`UNSCOPED` when any of them
    holds a resource or a problem to report (or when no folder is a cluster), so none is dropped.
    """
    if not config.clusters:
        return [("", loaded)]
    owner: dict[str, str | None] = {}

    def assign(path: str) -> str | None:
        if path not in owner:
            owner[path] = cluster_of(path, config)
        return owner[path]

    for file in loaded.files:
        assign(file.path)
    for problem in loaded.problems:
        assign(problem.file.path)
    named = sorted({c for c in owner.values() if c is not None and c != SHARED})
    unscoped_used = any(assign(r.doc.file.path) is None for r in loaded.resources) or any(
        assign(p.file.path) is None for p in loaded.problems
    )
    names = named + ([UNSCOPED] if unscoped_used or not named else [])
    parts = {name: LoadResult() for name in names}

    def targets(path: str) -> list[LoadResult]:
        where = assign(path)
        if where == SHARED:
            return list(parts.values())
        name = UNSCOPED if where is None else where
        return [parts[name]] if name in parts else []

    for file in loaded.files:
        for part in targets(file.path):
            part.files.append(file)
    for doc in loaded.documents:
        for part in targets(doc.file.path):
            part.documents.append(doc)
            if doc.data is None:
                part.empty_documents += 1
    for raw in loaded.resources:
        for part in targets(raw.doc.file.path):
            part.resources.append(raw)
    for problem in loaded.problems:
        for part in targets(problem.file.path):
            part.problems.append(problem)
    return [(name, parts[name]) for name in names]


def _cluster_fingerprint(fingerprint: str, cluster: str) -> str:
    """The fingerprint of a finding in a configured cluster: still line-independent, and distinct
    per cluster (without clusters configured fingerprints are left as they are, so baselines hold)."""
    return hashlib.sha256(f"{fingerprint}\x1f{cluster}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _directive_key(d: suppress.Directive) -> tuple[object, ...]:
    return (d.file, d.location, d.scope, d.rules, d.reason)


def _merge_clusters(per_cluster: list[tuple[str, list[Finding]]]) -> list[Finding]:
    """One finding for each finding that holds alike in several clusters (on a shared file): the
    first cluster's, with ``clusters`` naming them all."""
    merged: dict[tuple[object, ...], Finding] = {}
    out: list[Finding] = []
    for name, findings in per_cluster:
        for f in findings:
            key = (f.rule_id, f.location, f.message, f.related, f.field_path, f.identity, f.suppression)
            key += (f.witness, f.fingerprint, f.fix)  # the fingerprint before the cluster is added to it
            first = merged.get(key)
            if first is not None:
                if name not in first.clusters:
                    first.clusters += (name,)
                continue
            merged[key] = f
            f.cluster, f.clusters = name, (name,)
            out.append(f)
    for f in out:
        f.fingerprint = _cluster_fingerprint(f.fingerprint, f.cluster)
    return out


def _widened(focus: Collection[str] | None, model: Model) -> frozenset[str] | None:
    """The files the rules must check for a run focused on ``focus``: those, and every file that holds
    a resource of the same identity as one in them. Findings of one rule on one identity and field are
    numbered across files to keep fingerprints unique (:func:`auditor.engine.run_rules`), so a duplicate
    elsewhere decides a focused finding's fingerprint."""
    if focus is None:
        return None
    files = set(focus)
    where: dict[str, set[str]] = {}
    for resource in model.resources:
        where.setdefault(resource.identity, set()).add(resource.file)
    for paths in where.values():
        if len(paths) > 1 and not paths.isdisjoint(focus):
            files |= paths
    return frozenset(files)


def skipped_sub_checks(config: Config, rules: Sequence[Rule]) -> frozenset[str]:
    """Sub-checks of the enabled ``rules`` that ``select``/``ignore`` leave out."""
    select = [*config.select, *config.extend_select]
    skipped: set[str] = set()
    for rule in rules:
        enabled = set(catalog.enabled_sub_checks(rule, select, config.ignore))
        skipped.update(sub.id for sub in rule.sub_checks if sub not in enabled)
    return frozenset(skipped)


def audit(
    paths: Sequence[str],
    config: Config | None = None,
    limits: Limits | None = None,
    stdin_name: str = "-",
    debug: bool = False,
    pure: bool = False,
    baseline: str | None = None,
    cache: ParseCache | None = None,
    focus: Collection[str] | None = None,
) -> AuditResult:
    """Audit ``paths`` (files, folders, ``-`` for stdin). Raises FileNotFoundError for a missing path.

    ``cache``: parsed files are looked up in and added to it (the result is the same without it).
    ``focus``: report only findings placed in these files (display paths; internal errors always):
    the rules may then skip work whose findings would lie elsewhere (see :class:`Context`).
    """
    with _fewer_collections():
        result = _audit(paths, config, limits, stdin_name, debug, pure, baseline, cache, focus)
    if focus is not None:
        kept = set(focus)
        result.findings = [f for f in result.findings if f.location.path in kept or f.internal_error]
    return result


#: Cyclic garbage collection while an audit runs: the first generation is collected after this
#: many allocations instead of 700. An audit allocates millions of containers that all live to the
#: end and makes few cycles, so the default collector spends a fifth to a third of a warm run
#: traversing them again and again (10k documents: 1.4 s of 5 s) for nothing. Higher thresholds
#: (100,000 / 50 / 100) cost memory instead: the parser's short-lived cycles pile up (100k
#: documents: 10% more peak RSS). What is loaded, then the model, is moved out of the collector's
#: sight once built (:func:`gc.freeze`, see :func:`_settled`): later collections skip it.
GC_THRESHOLDS = (10_000, 10, 10)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect less often for the duration of an audit; the process's own settings come back after,
    and what was frozen meanwhile (:func:`_settled`) is handed back to the collector."""
    saved = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


def _settled() -> None:
    """Everything alive now lives to the end of the audit: no collection traverses it again."""
    gc.freeze()


def _audit(
    paths: Sequence[str],
    config: Config | None,
    limits: Limits | None,
    stdin_name: str,
    debug: bool,
    pure: bool,
    baseline: str | None,
    cache: ParseCache | None,
    focus: Collection[str] | None,
) -> AuditResult:
    """With ``clusters`` configured every cluster (see :func:`split_clusters`) gets its own model,
    rule context and findings; each finding names its cluster."""
    config = config or Config()
    limits = limits or Limits(max_file_bytes=config.max_file_size)
    stats = Stats()
    t0 = time.perf_counter()
    settings = RenderSettings(enabled=config.render, helm_values=config.helm_values)
    render = Renderer(settings, cache=cache, max_bytes=limits.max_file_bytes)
    loaded = load(
        paths,
        KNOWN_KINDS,
        exclude=config.exclude,
        limits=limits,
        stdin_name=stdin_name,
        pure=pure,
        render=render,
        cache=cache,
    )
    if cache is not None:
        cache.flush(wait=False)  # the changed packs are written while the model is built and the rules run
    _settled()
    t1 = time.perf_counter()
    parts = split_clusters(loaded, config)
    models = [build_model(part.resources, config.default_namespace) for _, part in parts]
    _settled()
    t2 = time.perf_counter()
    rules = enabled_rules(config)
    early = [r for r in rules if not r.late]
    skip = skipped_sub_checks(config, rules)
    severity = catalog.severities(config.severity)
    runs: list[ClusterRun] = []
    found: list[list[Finding]] = []
    directives: list[list[suppress.Directive]] = []
    for (name, part), model in zip(parts, models, strict=True):
        ctx = Context(load=part, model=model, config=config, focus=_widened(focus, model))
        findings = run_rules(ctx, early, severity, debug=debug, skip=skip)
        if config.per_path_ignores:
            ignores = config.per_path_ignores
            findings = [
                f for f in findings if not suppress.path_ignored(f.location.path, f.rule_id, ignores, sub_id(f))
            ]
        these = suppress.collect(part, model)
        suppress.apply(findings, these)
        runs.append(ClusterRun(name, part, model, ctx))
        found.append(findings)
        directives.append(these)
    if len(runs) > 1:  # a suppression in a shared file is used when it is used in any cluster
        used: dict[tuple[object, ...], set[str]] = {}
        for d in (d for these in directives for d in these):
            used.setdefault(_directive_key(d), set()).update(d.used)
        for d in (d for these in directives for d in these):
            d.used = used[_directive_key(d)]
    known = catalog.known_ids()
    ran = {r.id for r in early} | ({s.id for r in early for s in r.sub_checks} - skip)
    late_rules = [r for r in rules if r.late]
    notes: list[str] = [] if config.clusters else runs[0].context.notes
    for run, findings, these in zip(runs, found, directives, strict=True):
        run.context.suppression_problems = suppress.problems(these, known, ran)
        late = run_rules(run.context, late_rules, severity, debug=debug, skip=skip)
        suppress.apply(late, these)
        findings += late
        if config.clusters:
            notes += [n for n in (f"{run.name}: {note}" for note in run.context.notes) if n not in notes]
    if config.clusters:
        findings = _merge_clusters([(run.name, f) for run, f in zip(runs, found, strict=True)])
    else:
        findings = found[0]
    findings = sorted(findings, key=Finding.sort_key)
    if baseline is not None:
        suppress.apply_baseline(findings, suppress.read_baseline(baseline), baseline)
    if cache is not None:
        cache.prune()  # (waits for the packs still being written)
    t3 = time.perf_counter()
    stats.files = len(loaded.files)
    stats.documents = len(loaded.documents)
    stats.resources = len(loaded.resources)
    stats.skipped_documents = loaded.skipped_documents
    stats.empty_documents = loaded.empty_documents
    stats.seconds = {"load": t1 - t0, "model": t2 - t1, "rules": t3 - t2, "total": t3 - t0}
    first = runs[0]
    return AuditResult(findings, rules, loaded, first.model, config, stats, notes, first.context, runs)

