"""One audit run: load -> model -> rules -> findings, with timings for the report."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor import catalog, suppress
from auditor.catalog import Rule
from auditor.config import Config
from auditor.engine import Context, run_rules
from auditor.findings import Finding, Severity
from auditor.loader import Limits, LoadResult, SourceFile, load
from auditor.model import KNOWN_KINDS, Model, build_model

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
class AuditResult:
    findings: list[Finding]
    rules: tuple[Rule, ...]  # the enabled rules
    load: LoadResult
    model: Model
    config: Config
    stats: Stats
    notes: list[str] = field(default_factory=list)
    context: Context | None = None  # the rules' shared context (the evaluator, once built)

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
    """Rules picked by ``select``/``extend_select`` and not removed by ``ignore``."""
    chosen = []
    for rule in catalog.all_rules():
        picked = any(catalog.matches(rule, s) for s in [*config.select, *config.extend_select])
        dropped = any(catalog.matches(rule, s) for s in config.ignore)
        if picked and not dropped:
            chosen.append(rule)
    return tuple(chosen)


def audit(
    paths: Sequence[str],
    config: Config | None = None,
    limits: Limits | None = None,
    stdin_name: str = "-",
    debug: bool = False,
    pure: bool = False,
    baseline: str | None = None,
    cache: ParseCache | None = None,
) -> AuditResult:
    """Audit ``paths`` (files, folders, ``-`` for stdin). Raises FileNotFoundError for a missing path.

    ``cache``: parsed files are looked up in and added to it (the result is the same without it).
    """
    with _fewer_collections():
        return _audit(paths, config, limits, stdin_name, debug, pure, baseline, cache)


#: Cyclic garbage collection while an audit runs: the first generation is collected after this
#: many allocations instead of 700. An audit allocates millions of containers that all live to the
#: end and makes almost no cycles, so the default collector spends a fifth to a third of a warm run
#: traversing them again and again (10k documents: 1.4 s of 5 s) for nothing.
GC_THRESHOLDS = (100_000, 50, 100)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect less often for the duration of an audit; the process's own settings come back after."""
    saved = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _audit(
    paths: Sequence[str],
    config: Config | None,
    limits: Limits | None,
    stdin_name: str,
    debug: bool,
    pure: bool,
    baseline: str | None,
    cache: ParseCache | None,
) -> AuditResult:
    config = config or Config()
    limits = limits or Limits(max_file_bytes=config.max_file_size)
    stats = Stats()
    t0 = time.perf_counter()
    loaded = load(
        paths, KNOWN_KINDS, exclude=config.exclude, limits=limits, stdin_name=stdin_name, pure=pure, cache=cache
    )
    if cache is not None:
        cache.flush(wait=False)  # the changed packs are written while the model is built and the rules run
    t1 = time.perf_counter()
    model = build_model(loaded.resources, config.default_namespace)
    t2 = time.perf_counter()
    rules = enabled_rules(config)
    ctx = Context(load=loaded, model=model, config=config)
    findings = run_rules(ctx, [r for r in rules if not r.late], config.severity, debug=debug)
    if config.per_path_ignores:
        ignores = config.per_path_ignores
        findings = [f for f in findings if not suppress.path_ignored(f.location.path, f.rule_id, ignores)]
    directives = suppress.collect(loaded, model)
    suppress.apply(findings, directives)
    known = {r.id for r in catalog.all_rules()}
    ctx.suppression_problems = suppress.problems(directives, known, {r.id for r in rules if not r.late})
    late = run_rules(ctx, [r for r in rules if r.late], config.severity, debug=debug)
    suppress.apply(late, directives)
    findings = sorted(findings + late, key=Finding.sort_key)
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
    return AuditResult(findings, rules, loaded, model, config, stats, ctx.notes, ctx)


def worst(findings: Sequence[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)
