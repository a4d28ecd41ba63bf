"""Benchmark harness for calico-audit (issue 5). Not a test: run it by hand, on an idle machine.

    .venv/bin/python benchmarks/run.py                          # 1k, 10k and 20k documents
    .venv/bin/python benchmarks/run.py --sizes 100k             # on demand (merged into results.json)
    .venv/bin/python benchmarks/run.py --profile 20k            # also profile the 20k audit (pyinstrument)
    .venv/bin/python benchmarks/run.py --ignore CA207,CA208     # measure without some rules

For each size it generates (or reuses, from ``benchmarks/out/``) a synthetic repository with
``benchmarks/generate.py`` and measures, each in its own subprocess:

* the phase split: a process calling ``auditor.run.audit`` with ``load``, ``build_model`` and every
  enabled rule's ``check`` wrapped in timers (the tool itself is not modified): load (read + parse),
  model, each rule (schema validation is rule CA002), values shared between rules through
  ``ctx.memo`` (the evaluator), the engine's own work, and rendering JSON and SARIF;
* the whole audit as a user runs it: ``audit . --isolated --format json -o FILE --exit-zero``
  (wall time, documents per second, peak RSS of that process from ``wait4``);
* the floor: the same files read and composed into YAML nodes with positions by ruamel.yaml's
  C composer (``YAML(typ="safe").compose_all``), nothing else.

Every audit has a time budget (``--budget``, default 300 s). A phase-split run that exceeds it stops
itself and reports what it finished and which rule was running; the whole-audit runs are then
skipped for that size. Then start-up (``audit --version``, median of 20) and a pre-commit-style
run on a 10k repository where 2 files changed. Results go to ``benchmarks/results.json``; the table
in ``benchmarks/README.md`` between the RESULTS markers is rewritten from them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RESULTS = HERE / "results.json"
README = HERE / "README.md"
DEFAULT_SIZES = (1_000, 10_000, 20_000)
#: The repository shapes of generate.py, and the sizes measured by default for each.
SHAPES = ("standard", "node-heavy")
DEFAULT_SHAPE_SIZES = {"standard": DEFAULT_SIZES, "node-heavy": (5_000, 10_000, 20_000)}
PRECOMMIT_SIZE = 10_000
STARTUP_RUNS = 20
BEGIN, END = "<!-- BEGIN RESULTS (written by benchmarks/run.py) -->", "<!-- END RESULTS -->"
YAML_SUFFIXES = (".yaml", ".yml", ".json")
SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".calico-audit-cache"}
SCHEMA_RULE = "CA002"  # schema validation happens inside this rule
KILL_GRACE_S = 60.0  # a child that overruns its own budget by this much is killed
SLOW_S = 30.0  # a measurement that takes longer than this is not repeated


# --------------------------------------------------------------------------------------------
# Running a child and measuring it
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Measured:
    wall_s: float
    cpu_s: float  # user + system time of the process
    maxrss_mb: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def measure(
    cmd: Sequence[str], cwd: Path | None = None, capture: bool = False, timeout: float | None = None
) -> Measured:
    """Run ``cmd``: wall time and the peak RSS of that process alone (``wait4``); killed after ``timeout``."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group, so a kill reaches nothing else
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            out = proc.stdout.read() if proc.stdout is not None else b""
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stdout is not None:
            proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return Measured(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        proc.returncode,
        out.decode("utf-8", "replace"),
        stderr,
        killed.is_set(),
    )


def checked(run: Measured, what: str) -> Measured:
    if run.timed_out:
        raise SystemExit(f"{what} was killed after {run.wall_s:.0f} s")
    if run.returncode != 0:
        raise SystemExit(f"{what} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return run


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --------------------------------------------------------------------------------------------
# Children (run as `python benchmarks/run.py --child KIND ...` in a fresh process)
# --------------------------------------------------------------------------------------------


class OverBudget(BaseException):
    """Raised by SIGALRM inside a child; a BaseException, so the engine's per-rule guard lets it through."""


def _arm_budget(seconds: float, cpu: bool = True) -> None:
    """Raise :class:`OverBudget` after ``seconds`` of CPU time (``cpu``) or of wall time."""

    def alarm(signum: int, frame: Any) -> None:
        raise OverBudget

    which, sig = (signal.ITIMER_PROF, signal.SIGPROF) if cpu else (signal.ITIMER_REAL, signal.SIGALRM)
    signal.signal(sig, alarm)
    signal.setitimer(which, seconds)


def _disarm_budget() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)


def _yaml_files(root: str) -> list[str]:
    found: list[str] = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found.extend(os.path.join(top, f) for f in sorted(files) if f.endswith(YAML_SUFFIXES))
    return found


def child_floor(root: str) -> dict[str, Any]:
    """Find, read and compose every file with ruamel.yaml's C composer: the floor of any YAML tool."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe")  # C parser (ruamel.yaml.clib) when installed
    t0, c0 = time.perf_counter(), time.process_time()
    documents = errors = 0
    paths = _yaml_files(root)
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            for node in yaml.compose_all(text):
                if node is not None:
                    documents += 1
        except YAMLError:
            errors += 1
    seconds, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "files": len(paths),
        "documents": documents,
        "files_with_errors": errors,
        "parser": f"{yaml.Parser.__module__}.{yaml.Parser.__name__}",
    }


def child_phases(root: str, budget: str, ignore: str) -> dict[str, Any]:
    """``auditor.run.audit`` with load, model and each rule timed, then the JSON and SARIF renders.

    Times are CPU seconds of this process (``time.process_time``), which a busy machine disturbs far
    less than wall time; the totals are given in wall time too. The budget is CPU time as well.
    """
    cpu, wall = time.process_time, time.perf_counter
    c_start = cpu()
    import auditor.run as run_mod
    from auditor import __version__
    from auditor.context import Context
    from auditor.report import render

    c_imported = cpu()
    ignored = {r for r in ignore.split(",") if r}
    phases: dict[str, float] = {}
    rule_cpu: dict[str, float] = {}
    rule_names: dict[str, str] = {}
    shared: list[dict[str, Any]] = []  # values built once through ctx.memo and shared by rules
    running: list[tuple[str, float]] = []  # the rule being checked, and since when (CPU clock)
    original = {name: getattr(run_mod, name) for name in ("enabled_rules", "load", "build_model")}
    memo = getattr(Context, "memo", None)  # (older trees shared values through ctx.memo)

    peak_mb: dict[str, float] = {}  # peak RSS of this process when each phase ends

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def phase(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = cpu() - t
                peak_mb[name] = peak()

        return wrapper

    def timed(rule: Any) -> Callable[[Any], list[Any]]:
        check = rule.check

        def wrapper(ctx: Any) -> list[Any]:
            t = cpu()
            running.append((rule.id, t))
            try:
                issues = list(check(ctx))
            except Exception:  # a crash: the engine reports it and goes on
                running.pop()
                raise
            running.pop()  # (an OverBudget stop leaves the entry: it says where the run was)
            rule_cpu[rule.id] = rule_cpu.get(rule.id, 0.0) + cpu() - t
            return issues

        return wrapper

    def timed_sub(rule_id: str, check: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
        """A sub-check (called once per resource of its kinds): its time counts for its rule."""

        def wrapper(resource: Any) -> list[Any]:
            t = cpu()
            try:
                return list(check(resource))
            finally:
                rule_cpu[rule_id] = rule_cpu.get(rule_id, 0.0) + cpu() - t

        return wrapper

    def timed_rule(rule: Any) -> Any:
        subs = tuple(dataclasses.replace(s, check=timed_sub(rule.id, s.check)) for s in rule.sub_checks)
        return dataclasses.replace(rule, check=timed(rule) if rule.check is not None else None, sub_checks=subs)

    def timed_memo(self: Any, key: str, build: Any) -> Any:
        if key in self._cache:
            return self._cache[key]
        t = cpu()
        value = memo(self, key, build)
        shared.append({"key": key, "seconds": cpu() - t, "built_by": running[-1][0] if running else None})
        return value

    def timed_rules(config: Any) -> tuple[Any, ...]:
        rules = [r for r in original["enabled_rules"](config) if r.id not in ignored]
        rule_names.update({r.id: r.name for r in rules})
        return tuple(timed_rule(r) for r in rules)

    # Monkeypatch the names `auditor.run.audit` looks up, in this process only.
    patches = {
        "enabled_rules": timed_rules,
        "load": phase("load", original["load"]),
        "build_model": phase("model", original["build_model"]),
    }
    for name, value in patches.items():
        setattr(run_mod, name, value)
    if memo is not None:
        Context.memo = timed_memo  # type: ignore[attr-defined]
    os.chdir(root)
    out: dict[str, Any] = {
        "version": __version__,
        "import_s": c_imported - c_start,
        "timed_out": False,
        "phases": phases,
        "peak_rss_mb": peak_mb,
        "rule_seconds": rule_cpu,
        "rule_names": rule_names,
        "shared_builds": shared,
    }
    c_audit, w_audit = cpu(), wall()
    _arm_budget(float(budget))
    try:
        result = run_mod.audit(["."])
        c_done, w_done = cpu(), wall()
        peak_mb["rules"] = peak()
        renders: dict[str, float] = {}
        for fmt in ("json", "sarif"):
            t = cpu()
            render(result, fmt)
            renders[fmt] = cpu() - t
    except OverBudget:
        c_now = cpu()
        return out | {
            "timed_out": True,
            "budget_s": float(budget),
            "running_rule": running[-1][0] if running else None,
            "running_for_s": c_now - running[-1][1] if running else None,
            "elapsed_s": c_now - c_audit,
            "elapsed_wall_s": wall() - w_audit,
        }
    finally:
        _disarm_budget()
    stats = result.stats
    findings: dict[str, int] = {}
    for f in result.findings:
        findings[f.rule_id] = findings.get(f.rule_id, 0) + 1
    total = c_done - c_audit
    return out | {
        "total_s": total,
        "total_wall_s": w_done - w_audit,
        "tool_seconds_wall": dict(stats.seconds),  # the tool's own phase timer (wall clock)
        "rules_s": total - phases.get("load", 0.0) - phases.get("model", 0.0),
        "engine_s": total - phases.get("load", 0.0) - phases.get("model", 0.0) - sum(rule_cpu.values()),
        "render_s": renders,
        "files": stats.files,
        "documents": stats.documents,
        "resources": stats.resources,
        "findings": findings,
        "internal_errors": len(result.internal_errors),
    }


def child_profile(root: str, html: str, text: str, budget: str, ignore: str = "") -> dict[str, Any]:
    """Profile one CLI run with pyinstrument (stopped after ``budget`` s); own and cumulative time per function."""
    from pyinstrument import Profiler

    from auditor.cli import main

    report = os.path.join(os.path.dirname(html), "profile-report.json")
    os.chdir(root)
    profiler = Profiler(interval=0.001)
    profiler.start()
    _arm_budget(float(budget), cpu=False)  # (pyinstrument samples on wall time)
    finished = True
    try:
        main(
            [
                ".",
                "--isolated",
                *(["--ignore", ignore] if ignore else []),
                "--format",
                "json",
                "-o",
                report,
                "--exit-zero",
            ]
        )
    except OverBudget:
        finished = False
    finally:
        _disarm_budget()
    session = profiler.stop()
    with open(html, "w", encoding="utf-8") as fh:
        fh.write(profiler.output_html())
    with open(text, "w", encoding="utf-8") as fh:
        fh.write(profiler.output_text(unicode=True, color=False, show_all=False))
    own: dict[str, float] = {}
    cumulative: dict[str, float] = {}

    def key(frame: Any) -> str:
        where = f"{frame.file_path_short or frame.file_path}:{frame.line_no}" if frame.file_path else "?"
        return f"{frame.function} ({where})"

    def walk(frame: Any, ancestors: frozenset[str]) -> None:
        if frame.is_synthetic:
            return
        k = key(frame)
        own[k] = own.get(k, 0.0) + frame.total_self_time
        if k not in ancestors:  # count recursive calls once
            cumulative[k] = cumulative.get(k, 0.0) + frame.time
        for child in frame.children:
            walk(child, ancestors | {k})

    root_frame = session.root_frame()
    if root_frame is not None:
        walk(root_frame, frozenset())

    def top(table: Mapping[str, float]) -> list[dict[str, Any]]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:15]
        return [{"function": k, "seconds": round(v, 3)} for k, v in ranked]

    return {
        "total_s": session.duration,
        "finished": finished,
        "budget_s": float(budget),
        "own": top(own),
        "cumulative": top(cumulative),
        "html": os.path.relpath(html, HERE.parent),
        "text": os.path.relpath(text, HERE.parent),
    }


CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    "floor": child_floor,
    "phases": child_phases,
    "profile": child_profile,
}


def run_child(python: str, kind: str, *args: str, timeout: float | None = None) -> tuple[dict[str, Any], Measured]:
    cmd = [python, str(Path(__file__).resolve()), "--child", kind, *args]
    run = checked(measure(cmd, capture=True, timeout=timeout), f"{kind} child")
    return json.loads(run.stdout), run


# --------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------


def _generator_hash() -> str:
    return hashlib.sha256((HERE / "generate.py").read_bytes()).hexdigest()[:16]


def ensure_repo(docs: int, seed: int, shape: str = "standard") -> tuple[Path, dict[str, Any]]:
    """The generated repository for (docs, seed, shape), reused while generate.py is unchanged."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import generate

    tag = "" if shape == "standard" else f"{shape}-"
    repo = OUT / f"repo-{tag}{docs}-s{seed}"
    meta_path = OUT / f"repo-{tag}{docs}-s{seed}.json"
    digest = _generator_hash()
    if meta_path.exists() and repo.is_dir():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator_sha") == digest:
            return repo, meta
    print(f"  generating {docs:,} documents ({shape}, seed {seed}) ...", flush=True)
    t0 = time.perf_counter()
    summary = generate.generate(docs, seed, str(repo), shape=shape)
    meta = summary.as_dict() | {"generator_sha": digest, "generate_s": round(time.perf_counter() - t0, 2)}
    OUT.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return repo, meta


# --------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Setup:
    python: str
    audit: str
    seed: int
    budget: float  # CPU seconds allowed per audit
    ignore: tuple[str, ...]
    #: ``--no-cache`` when the tool has an on-disk parse cache: the size table measures cold runs
    no_cache: tuple[str, ...] = ()

    @property
    def kill_after(self) -> float:
        """Wall-clock limit for a child: the CPU budget, room for a busy machine, and a grace period."""
        return 3 * self.budget + KILL_GRACE_S

    def audit_cmd(self, report: Path, *args: str) -> list[str]:
        # Never `-o /dev/null`: the CLI writes reports atomically (temp file + rename), which as root
        # replaces the /dev/null device with a regular file.
        extra = ["--ignore", ",".join(self.ignore)] if self.ignore else []
        return [
            self.audit,
            *(args or (".",)),
            "--isolated",
            *extra,
            "--format",
            "json",
            "-o",
            str(report),
            "--exit-zero",
        ]

    def run_audit(
        self, repo: Path, report: Path, *args: str, timeout: float | None = None, cache: bool = False
    ) -> Measured:
        cmd = self.audit_cmd(report, *args) + ([] if cache else list(self.no_cache))
        run = measure(cmd, cwd=repo, timeout=timeout or self.kill_after)
        if not run.timed_out and run.returncode != 0:
            raise SystemExit(f"audit {' '.join(args)} in {repo} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
        return run


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def bench_size(docs: int, repeat: int, s: Setup, shape: str = "standard") -> dict[str, Any]:
    repo, meta = ensure_repo(docs, s.seed, shape)
    entry: dict[str, Any] = {
        "shape": shape,
        "documents": docs,
        "files": meta["files"],
        "bytes": meta["bytes"],
        "nodes": meta["nodes"],
        "apps": meta["apps"],
        "seed": s.seed,
        "mix": meta["kinds"],
        "deliberate_defects": meta["defects"],
        "ignored_rules": list(s.ignore),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    # The floor first: it is quick and always completes.
    floors = [run_child(s.python, "floor", str(repo))[0] for _ in range(repeat)]
    floor_s, floor_cpu = median([f["seconds"] for f in floors]), median([f["cpu_s"] for f in floors])
    entry["floor"] = floors[0] | {
        "seconds": _r(floor_s),
        "cpu_s": _r(floor_cpu),
        "runs_s": [_r(f["seconds"]) for f in floors],
    }
    print(f"  floor (ruamel.yaml C composer): {floor_s:.2f} s wall, {floor_cpu:.2f} s CPU", flush=True)
    # The phase split (stops itself at the CPU budget and says where it was).
    args = (str(repo), str(s.budget), ",".join(s.ignore))
    runs = []
    for i in range(repeat):
        data, _ = run_child(s.python, "phases", *args, timeout=s.kill_after)
        runs.append(data)
        if data["timed_out"]:
            break
        print(f"  phases run {i + 1}/{repeat}: {data['total_s']:.2f} s CPU in process", flush=True)
        if data["total_s"] > SLOW_S:
            break  # noise is no issue at this scale
    finished = [r for r in runs if not r["timed_out"]]
    p = min(finished, key=lambda d: d["total_s"]) if finished else runs[-1]
    schema_s = p["rule_seconds"].get(SCHEMA_RULE)
    entry |= {
        "tool_version": p["version"],
        "rules_enabled": sorted(p["rule_names"]),
        "rule_names": dict(sorted(p["rule_names"].items())),
        "rules_s": {
            rid: {"name": p["rule_names"].get(rid, ""), "seconds": _r(sec)}
            for rid, sec in sorted(p["rule_seconds"].items())
        },
        "shared_builds_s": [
            {"key": b["key"], "seconds": _r(b["seconds"]), "built_by": b["built_by"]} for b in p["shared_builds"]
        ],
        "phases_cpu_s": {
            "import": _r(p["import_s"]),
            "load": _r(p["phases"].get("load")),
            "model": _r(p["phases"].get("model")),
            "schema": _r(schema_s),
        },
    }
    if p["timed_out"]:
        entry["timed_out"] = {
            "budget_cpu_s": s.budget,
            "elapsed_wall_s": _r(p["elapsed_wall_s"], 1),
            "running_rule": p["running_rule"],
            "running_rule_name": p["rule_names"].get(p["running_rule"] or "", ""),
            "running_for_cpu_s": _r(p["running_for_s"], 1),
            "rules_finished": len(p["rule_seconds"]),
            "rules_enabled": len(p["rule_names"]),
        }
        entry["audit"] = {"wall_s": None, "timed_out": True}
        print(
            f"  over the {s.budget:.0f} s CPU budget: rule {p['running_rule']} had been running for "
            f"{p['running_for_s']:.0f} s ({len(p['rule_seconds'])} of {len(p['rule_names'])} rules done)",
            flush=True,
        )
        return entry
    entry["phases_cpu_s"] |= {
        "rules_other": _r(p["rules_s"] - (schema_s or 0.0)),
        "rules_total": _r(p["rules_s"]),
        "engine": _r(p["engine_s"]),
        "total_in_process": _r(p["total_s"]),
        "render_json": _r(p["render_s"]["json"]),
        "render_sarif": _r(p["render_s"]["sarif"]),
    }
    entry |= {
        "peak_rss_mb_after": {k: round(v, 1) for k, v in p.get("peak_rss_mb", {}).items()},
        "in_process_wall_s": _r(p["total_wall_s"]),
        "tool_seconds_wall": {k: _r(v) for k, v in p["tool_seconds_wall"].items()},
        "documents_loaded": p["documents"],
        "findings": p["findings"],
        "internal_errors": p["internal_errors"],
    }
    # The whole audit, as a user runs it.
    report = OUT / f"report-{'' if shape == 'standard' else shape + '-'}{docs}.json"
    audits: list[Measured] = []
    for i in range(repeat):
        run = s.run_audit(repo, report)
        if run.timed_out:
            entry["audit"] = {"wall_s": None, "timed_out": True, "killed_after_s": s.kill_after}
            return entry
        audits.append(run)
        print(f"  audit run {i + 1}/{repeat}: {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU, {run.maxrss_mb:.0f} MB")
        if run.cpu_s > SLOW_S:
            break
    wall, cpu = median([a.wall_s for a in audits]), median([a.cpu_s for a in audits])
    entry["audit"] = {
        "wall_s": _r(wall),
        "cpu_s": _r(cpu),
        "runs_s": [_r(a.wall_s) for a in audits],
        "docs_per_s": round(docs / wall),
        "peak_rss_mb": round(max(a.maxrss_mb for a in audits), 1),
    }
    entry["ratio_to_floor"] = {"wall": round(wall / floor_s, 2), "cpu": round(cpu / floor_cpu, 2)}
    print(
        f"  {docs:,} docs ({shape}): audit {wall:.2f} s ({docs / wall:,.0f} docs/s, "
        f"{entry['audit']['peak_rss_mb']:.0f} MB), "
        f"floor {floor_s:.2f} s, ratio {wall / floor_s:.1f}x wall, {cpu / floor_cpu:.1f}x CPU",
        flush=True,
    )
    return entry


def bench_startup(s: Setup) -> dict[str, Any]:
    def times(cmd: list[str]) -> list[float]:
        for _ in range(2):  # warm the page cache and the .pyc files
            checked(measure(cmd), " ".join(cmd))
        return [checked(measure(cmd), " ".join(cmd)).wall_s for _ in range(STARTUP_RUNS)]

    version = times([s.audit, "--version"])
    bare = times([s.python, "-c", "pass"])
    imports = checked(measure([s.python, "-X", "importtime", s.audit, "--version"]), "importtime")
    heavy = []
    for line in imports.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(3)) <= 1:  # top-level imports only
            heavy.append((int(m.group(2)), m.group(4)))
    heavy.sort(reverse=True)
    result = {
        "runs": STARTUP_RUNS,
        "audit_version_median_ms": round(median(version) * 1000, 1),
        "audit_version_min_ms": round(min(version) * 1000, 1),
        "python_bare_median_ms": round(median(bare) * 1000, 1),
        "top_imports_ms": [{"module": name, "cumulative_ms": round(us / 1000, 1)} for us, name in heavy[:8]],
        "measured_at": now(),
    }
    print(
        f"  audit --version: median {result['audit_version_median_ms']} ms "
        f"(python -c pass: {result['python_bare_median_ms']} ms)",
        flush=True,
    )
    return result


def cache_off_option(audit: str) -> tuple[str, ...]:
    """``("--no-cache",)`` when the tool has an on-disk cache that can be turned off, else ``()``."""
    text = checked(measure([audit, "--help"], capture=True), "audit --help").stdout
    return ("--no-cache",) if re.search(r"--no-cache\b", text) else ()


_CHANGED_FILES_OPTION = re.compile(r"(--(?:pre-commit|changed[\w-]*|files-from|staged|only-changed))\b")


def changed_files_option(audit: str) -> str | None:
    """The option of a changed-files (pre-commit) mode, if ``audit --help`` shows one."""
    text = checked(measure([audit, "--help"], capture=True), "audit --help").stdout
    m = _CHANGED_FILES_OPTION.search(text)
    return m.group(1) if m else None


def bench_precommit(repeat: int, s: Setup) -> dict[str, Any]:
    """A 10k repository where 2 files changed: the hook's mode, the whole tree, and just the 2 files."""
    base, meta = ensure_repo(PRECOMMIT_SIZE, s.seed)
    repo = OUT / f"precommit-{PRECOMMIT_SIZE}-s{s.seed}"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(base, repo)
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*.yaml"))
    app_files = [f for f in files if f.startswith("namespaces/") and "replicas:" in (repo / f).read_text()]
    policy_files = [f for f in files if "allow-cluster-ips" in f]
    changed = [app_files[len(app_files) // 2], policy_files[0]]
    originals = {f: (repo / f).read_text() for f in changed}

    def edit(variant: int) -> None:
        """A realistic change: scale a Deployment, reorder the allow-list policies."""
        app, policy = changed
        (repo / app).write_text(re.sub(r"replicas: \d+", f"replicas: {3 + variant}", originals[app], count=1))
        (repo / policy).write_text(originals[policy].replace("order: 500", f"order: {501 + variant}", 1))

    report = OUT / "report-precommit.json"
    option = changed_files_option(s.audit)
    variants: dict[str, list[str]] = {"whole_tree": []}
    if option:
        variants["mode"] = [option, *changed]
    variants["changed_files_as_arguments"] = list(changed)
    if s.no_cache:  # the tool caches parsed files: measure the hook with a cold and with a warm cache
        variants["mode_cold_cache" if option else "whole_tree_cold_cache"] = variants.get("mode") or ["."]
    cache_dir = repo / ".calico-audit-cache"
    # Warm-up (fills any on-disk cache of parsed files) on the unchanged tree.
    warm = s.run_audit(repo, report, *(variants.get("mode") or ["."]), timeout=s.budget, cache=True)
    times: dict[str, list[float]] = {name: [] for name in variants}
    timed_out: set[str] = {"whole_tree", "mode"} if warm.timed_out else set()
    for i in range(repeat):
        edit(i)
        for name, args in variants.items():
            if name in timed_out:
                continue
            if name.endswith("_cold_cache"):
                shutil.rmtree(cache_dir, ignore_errors=True)
            run = s.run_audit(repo, report, *args, timeout=s.budget, cache=True)
            if run.timed_out:
                timed_out.add(name)
            else:
                times[name].append(run.wall_s)
    result: dict[str, Any] = {
        "documents": PRECOMMIT_SIZE,
        "files": meta["files"],
        "changed": changed,
        "mode_option": option,
        "cache": bool(s.no_cache),
        "budget_s": s.budget,
        "measured_at": now(),
    }
    for name in variants:
        result[f"{name}_s"] = None if name in timed_out or not times[name] else _r(median(times[name]))
        result[f"{name}_runs_s"] = [_r(t) for t in times[name]]
        result[f"{name}_timed_out"] = name in timed_out

    def show(name: str) -> str:
        return f"> {s.budget:.0f} s" if result.get(f"{name}_timed_out") else f"{result.get(f'{name}_s')} s"

    cold = f", cold cache {show('mode_cold_cache' if option else 'whole_tree_cold_cache')}" if s.no_cache else ""
    print(
        f"  pre-commit (10k docs, 2 files changed): `audit {option or '(no mode)'} FILES` {show('mode')}{cold}, "
        f"whole tree {show('whole_tree')}, the 2 files alone {show('changed_files_as_arguments')}",
        flush=True,
    )
    return result


def bench_profile(docs: int, s: Setup, shape: str = "standard") -> dict[str, Any]:
    repo, _ = ensure_repo(docs, s.seed, shape)
    tag = "" if shape == "standard" else f"{shape}-"
    suffix = f"{tag}{docs}" + (f"-without-{'-'.join(s.ignore)}" if s.ignore else "")
    html, text = OUT / f"profile-{suffix}.html", OUT / f"profile-{suffix}.txt"
    args = (str(repo), str(html), str(text), str(s.budget), ",".join(s.ignore))
    prof, _ = run_child(s.python, "profile", *args, timeout=2 * s.budget + KILL_GRACE_S)
    state = "complete" if prof["finished"] else f"stopped at the {s.budget:.0f} s budget"
    print(f"  profiled {prof['total_s']:.1f} s ({state}); full tree: {prof['text']}")
    for title in ("own", "cumulative"):
        print(f"  top by {title} time:")
        for row in prof[title]:
            print(f"    {row['seconds']:8.3f} s  {row['function']}")
    return prof | {"shape": shape, "documents": docs, "ignored_rules": list(s.ignore), "measured_at": now()}


# --------------------------------------------------------------------------------------------
# Machine, results file, README
# --------------------------------------------------------------------------------------------


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def machine(python: str) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    probe = (
        "import json, platform\n"
        "from importlib.metadata import PackageNotFoundError, version\n"
        "try:\n"
        "    from ruamel.yaml.cyaml import CParser  # noqa: F401  (the C parser is there)\n"
        "    clib = version('ruamel.yaml.clib')\n"
        "except (ImportError, PackageNotFoundError):\n"
        "    clib = None\n"
        "print(json.dumps({'python': platform.python_version(), 'implementation': platform.python_implementation(),"
        " 'ruamel.yaml': version('ruamel.yaml'), 'ruamel.yaml.clib': clib}))\n"
    )
    info = json.loads(checked(measure([python, "-c", probe], capture=True), "probe").stdout)
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = int(next(x for x in meminfo if x.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": info["python"],
        "implementation": info["implementation"],
        "ruamel.yaml": info["ruamel.yaml"],
        "ruamel.yaml.clib": info["ruamel.yaml.clib"],
    }


def git_commit() -> str | None:
    """The commit measured, ``+dirty`` when tracked files differ (read-only git commands only)."""
    git = ["git", "--no-optional-locks"]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], cwd=HERE.parent, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def load_results(mach: dict[str, Any]) -> dict[str, Any]:
    """Earlier results of this machine (other sizes are kept and merged); others are dropped."""
    if RESULTS.exists():
        try:
            old: dict[str, Any] = json.loads(RESULTS.read_text())
        except ValueError:
            old = {}
        if old.get("machine") == mach:
            if "profile" in old:  # (written by an earlier version of this script)
                old.setdefault("profiles", []).append(old.pop("profile"))
            return old
    return {"machine": mach, "sizes": []}


def save(results: Mapping[str, Any]) -> None:
    tmp = HERE / "results-partial.json.tmp"  # git-ignored
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(RESULTS)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _shape(e: Mapping[str, Any]) -> str:
    return str(e.get("shape") or "standard")  # (entries written before shapes existed are standard)


def _key(e: Mapping[str, Any]) -> tuple[int, int, tuple[str, ...]]:
    """One result per shape, size and set of left-out rules."""
    shape = _shape(e)
    rank = SHAPES.index(shape) if shape in SHAPES else len(SHAPES)
    return rank, e["documents"], tuple(e.get("ignored_rules", ()))


def _label(e: Mapping[str, Any]) -> str:
    ignored = e.get("ignored_rules") or []
    shape = "" if _shape(e) == "standard" else f" {_shape(e)}"
    return f"{e['documents']:,}{shape}" + (f" (without {', '.join(ignored)})" if ignored else "")


def _growth_notes(sizes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per shape: how the audit's CPU time grows with the input (issue 11: 5k -> 20k, 20k -> 100k)."""
    notes = []
    for shape in dict.fromkeys(_shape(e) for e in sizes):
        done = {
            e["documents"]: e
            for e in sizes
            if _shape(e) == shape and not e.get("ignored_rules") and (e.get("audit") or {}).get("cpu_s")
        }
        pairs = [(a, b) for a, b in ((5_000, 20_000), (20_000, 100_000)) if a in done and b in done]
        if not pairs and len(done) >= 2:
            pairs = [(min(done), max(done))]
        for a, b in pairs:
            ratio = done[b]["audit"]["cpu_s"] / done[a]["audit"]["cpu_s"]
            notes.append(f"{shape} {a:,} → {b:,} documents ({b / a:.0f}× the input): audit CPU {ratio:.1f}×")
    return ["Growth: " + "; ".join(notes) + ".", ""] if notes else []


def _size_row(e: Mapping[str, Any]) -> str:
    p, a = e["phases_cpu_s"], e["audit"]
    head = f"| {_label(e)} | {e['files']:,} | {e['bytes'] / 1e6:.1f} "
    floor = f"| {e['floor']['seconds']:.2f} "
    if e.get("timed_out"):
        t = e["timed_out"]
        over = (
            f"| over budget: > {t['budget_cpu_s']:.0f} s CPU ({t['elapsed_wall_s']:.0f} s wall); "
            f"{t['running_rule']} {t['running_rule_name']} still running after {t['running_for_cpu_s']:.0f} s, "
            f"{t['rules_finished']}/{t['rules_enabled']} rules done | — | — | — "
        )
        cells = f"| {_fmt(p['load'])} | {_fmt(p['schema'])} | {_fmt(p['model'])} | — | — "
        return head + over + cells + floor + "| — |"
    cells = (
        f"| {_fmt(p['load'])} | {_fmt(p['schema'])} | {_fmt(p['model'])} | {_fmt(p['rules_other'])} "
        f"| {_fmt(p['render_json'])} "
    )
    if a.get("timed_out"):
        return head + f"| killed after {a['killed_after_s']:.0f} s | — | — | — " + cells + floor + "| — |"
    r = e["ratio_to_floor"]
    return (
        head
        + f"| {a['wall_s']:.2f} | {a['cpu_s']:.2f} | {a['docs_per_s']:,} | {a['peak_rss_mb']:.0f} "
        + cells
        + floor
        + f"| {r['wall']:.1f}× ({r['cpu']:.1f}× CPU) |"
    )


def _code(results: Mapping[str, Any]) -> str:
    code = results.get("code") or {}
    if code.get("sha256"):
        return f" (working tree snapshot {code['sha256']})"
    return " (live working tree)" if code.get("live") else ""


def _memory_notes(sizes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the memory goes: peak RSS of the phase-split process when load, model and rules end."""
    parts = []
    for e in sizes:
        after = e.get("peak_rss_mb_after") or {}
        if after:
            shown = " / ".join(f"{after[k]:.0f}" for k in ("load", "model", "rules") if k in after)
            parts.append(f"{_label(e)}: {shown} MB")
    if not parts:
        return []
    return ["Peak RSS after load / model / rules (phase-split process): " + "; ".join(parts) + ".", ""]


def _code_notes(results: Mapping[str, Any], sizes: Sequence[Mapping[str, Any]]) -> list[str]:
    """A line for each size measured on other code than the latest run's."""
    latest = {"git_commit": results.get("git_commit"), **(results.get("code") or {})}
    notes = [
        f"{_label(e)} was measured on other code: {e['code'].get('git_commit')}, "
        f"snapshot {e['code'].get('sha256', 'live')} ({e['measured_at']})."
        for e in sizes
        if e.get("code") and e["code"] != latest
    ]
    return [*notes, ""] if notes else []


def table(results: Mapping[str, Any]) -> str:
    m = results["machine"]
    sizes = sorted(results["sizes"], key=_key)
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; {m['implementation']} "
        f"{m['python']}, ruamel.yaml {m['ruamel.yaml']}, ruamel.yaml.clib {m['ruamel.yaml.clib'] or 'absent'}. "
        f"Tool: calico-audit {results.get('tool_version', '?')} at {results.get('git_commit') or '?'}"
        f"{_code(results)}, "
        f"{len(results.get('rules', []))} rules ({', '.join(results.get('rules', []))}); "
        f"budget {results.get('budget_s', '?')} s of CPU per audit.",
        "",
        "| documents | files | MB | audit wall (s) | audit CPU (s) | docs/s | peak RSS (MB) | load | schema (CA002) "
        "| model | other rules | render JSON | floor (s) | audit / floor |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_size_row(e) for e in sizes),
        "",
        *_code_notes(results, sizes),
        *_growth_notes(sizes),
        *_memory_notes(sizes),
        "Audit wall and CPU: the median of the `audit` runs (CPU = user + system time of the process). "
        "Phase columns (load = find, read and parse; model; schema = rule CA002; other rules, including the "
        "engine; render JSON) are CPU seconds inside one `auditor.run.audit` call in a separate process, "
        "the best of the runs. The floor reads and composes the same files with ruamel.yaml's C composer "
        "(wall); audit / floor compares the wall times (and the CPU times).",
    ]
    rules: dict[str, str] = {}
    for e in sizes:
        rules |= e.get("rule_names", {})
        rules |= {rid: "" for rid in e.get("ignored_rules", []) if rid not in rules}
    if rules:
        lines += ["", "Per rule (CPU seconds; — = not reached within the budget):", ""]
        lines.append("| rule | " + " | ".join(_label(e) for e in sizes) + " |")
        lines.append("|---|" + "---:|" * len(sizes))
        for rid in sorted(rules):
            cells = []
            for e in sizes:
                cell = _fmt(e.get("rules_s", {}).get(rid, {}).get("seconds"), 3)
                t = e.get("timed_out")
                if t and t["running_rule"] == rid:
                    cell = f"> {t['running_for_cpu_s']:.0f} (stopped)"
                elif rid in e.get("ignored_rules", []):
                    cell = "left out"
                cells.append(cell)
            lines.append(f"| {rid} {rules[rid]} | " + " | ".join(cells) + " |")
        shared = {b["key"] for e in sizes for b in e.get("shared_builds_s", []) if b["seconds"] >= 0.01}
        for key in sorted(shared):  # (lazy values cost nothing to build: their cost shows in the rules)
            cells = []
            for e in sizes:
                builds = [b for b in e.get("shared_builds_s", []) if b["key"] == key]
                cells.append(" + ".join(f"{b['seconds']:.3f} (in {b['built_by']})" for b in builds) or "—")
            lines.append(f"| of which the shared `{key}` build | " + " | ".join(cells) + " |")
        engine = " | ".join(_fmt(e["phases_cpu_s"].get("engine"), 3) for e in sizes)
        lines.append(f"| (engine: stamping, suppressions, sorting) | {engine} |")
    st = results.get("startup")
    if st:
        lines += [
            "",
            f"Start-up: `audit --version` median {st['audit_version_median_ms']} ms over {st['runs']} runs "
            f"(min {st['audit_version_min_ms']} ms; bare `python -c pass` {st['python_bare_median_ms']} ms).",
        ]
    pc = results.get("precommit")
    if pc:

        def show(name: str) -> str:
            if pc.get(f"{name}_timed_out"):
                return f"> {pc['budget_s']:.0f} s (stopped)"
            value = pc.get(f"{name}_s")
            return "—" if value is None else f"{value} s"

        mode = f"`audit {pc['mode_option']} FILE FILE` {show('mode')}; " if pc.get("mode_option") else ""
        if pc.get("cache"):
            cold = "mode_cold_cache" if pc.get("mode_option") else "whole_tree_cold_cache"
            mode += f"the same with a cold (deleted) cache {show(cold)}; warm-cache runs otherwise; "
        lines += [
            "",
            f"Pre-commit style ({pc['documents']:,} documents, 2 files changed, wall time): {mode}whole tree "
            f"`audit .` {show('whole_tree')}; the 2 files alone as arguments {show('changed_files_as_arguments')}.",
        ]
    for pr in sorted(results.get("profiles", []), key=_key):
        state = "complete run" if pr["finished"] else f"first {pr['budget_s']:.0f} s"
        lines += ["", f"Profile of the {_label(pr)}-document audit ({state}): `{pr['text']}`; top 15 in results.json."]
    return "\n".join(lines)


def write_readme(results: Mapping[str, Any], command: str) -> None:
    commands = results.get("commands") or [command]
    block = f"{BEGIN}\nReproduce: {', then '.join(f'`{c}`' for c in commands)}\n\n{table(results)}\n{END}"
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def snapshot_code(python: str, reuse: bool = False) -> dict[str, Any]:
    """Copy the tool's packages to ``out/snapshot`` and make every child import them from there.

    Other people edit the working tree while a long run goes on; with the snapshot every measurement
    of one run sees the same code. The layout follows ``[tool.setuptools.package-dir]``.
    """
    import tomllib

    root = HERE.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())
    package_dirs: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    dest = OUT / "snapshot"
    if not (reuse and dest.is_dir()):
        if dest.exists():
            shutil.rmtree(dest)
        for package, source in sorted(package_dirs.items(), key=lambda kv: kv[0].count(".")):
            target = dest / package.replace(".", "/")
            shutil.copytree(root / source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    digest = hashlib.sha256()
    for path in sorted(dest.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(dest)).encode() + b"\0" + path.read_bytes())
    os.environ["PYTHONPATH"] = str(dest) + (os.pathsep + os.environ["PYTHONPATH"] if "PYTHONPATH" in os.environ else "")
    probe = "import auditor, auditor.rules; print(auditor.__file__); print(auditor.rules.__file__)"
    where = checked(measure([python, "-c", probe], cwd=OUT, capture=True), "snapshot probe").stdout.split()
    if not all(w.startswith(str(dest)) for w in where):
        raise SystemExit(f"the snapshot in {dest} is not what the children import ({where}); use --live")
    return {"snapshot": str(dest.relative_to(root)), "sha256": digest.hexdigest()[:16]}


def find_audit(python: str) -> str:
    beside = Path(python).parent / "audit"
    if beside.exists():
        return str(beside)
    found = shutil.which("audit")
    if not found:
        raise SystemExit("the `audit` command was not found: install the package (pip install -e .) first")
    return found


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = 1000 if part.endswith("k") else 1
        sizes.append(int(float(part.rstrip("k")) * scale))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="calico-audit benchmarks (issue 5)")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        help="e.g. 1k,10k,20k or 100k (default: 1k,10k,20k standard; 5k,10k,20k node-heavy)",
    )
    parser.add_argument(
        "--shapes",
        default=",".join(SHAPES),
        help=f"repository shapes to measure, comma-separated (default: {','.join(SHAPES)}; see generate.py --shape)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 3; 1 above 20k documents)")
    parser.add_argument("--budget", type=float, default=300.0, help="CPU seconds allowed per audit (default 300)")
    parser.add_argument("--ignore", default="", metavar="RULES", help="rule IDs to leave out, comma-separated")
    parser.add_argument("--profile", type=parse_sizes, default=[], metavar="SIZE", help="profile the audit of SIZE")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-precommit", action="store_true")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in README.md")
    parser.add_argument(
        "--live", action="store_true", help="measure the working tree as it changes (default: a snapshot of it)"
    )
    parser.add_argument(
        "--reuse-snapshot", action="store_true", help="measure the snapshot of the previous run again (same code)"
    )
    parser.add_argument(
        "--readme-only", action="store_true", help="rewrite README.md from results.json, measure nothing"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        sys.stdout.write(json.dumps(CHILDREN[kind](*rest)) + "\n")
        return 0

    if args.readme_only:
        results = json.loads(RESULTS.read_text())
        write_readme(results, results.get("command", "python benchmarks/run.py"))
        return 0
    python = sys.executable
    # Installed, the tool runs from compiled bytecode: with PYTHONDONTWRITEBYTECODE set (some CI images
    # and sandboxes set it) every child would compile the whole tool again (0.5 s and more per run).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    audit = find_audit(python)
    if measure([python, "-c", "import auditor.run"]).returncode != 0:
        raise SystemExit(f"{python} cannot import auditor: run this with the project's venv Python")
    ignore = tuple(r.strip().upper() for r in args.ignore.split(",") if r.strip())
    shapes = [x.strip() for x in args.shapes.split(",") if x.strip()]
    unknown = [x for x in shapes if x not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}: choose from {', '.join(SHAPES)}")
    setup = Setup(python, audit, args.seed, args.budget, ignore, no_cache=cache_off_option(audit))
    OUT.mkdir(parents=True, exist_ok=True)
    mach = machine(python)
    results = load_results(mach)
    previous = {"git_commit": results.get("git_commit"), **(results.get("code") or {})}
    for e in [*results["sizes"], *results.get("profiles", [])]:
        e.setdefault("code", previous)  # what earlier entries were measured on
    results["budget_s"] = args.budget
    results["git_commit"] = git_commit()
    if args.reuse_snapshot and not args.live:
        results["git_commit"] = previous["git_commit"]  # the snapshot's, not the working tree's
    results["code"] = {"live": True} if args.live else snapshot_code(python, reuse=args.reuse_snapshot)
    command = "python benchmarks/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    print(f"machine: {mach['cpu']}, {mach['cores']} cores; Python {mach['python']}; clib {mach['ruamel.yaml.clib']}")
    for shape, docs in [(x, n) for x in shapes for n in (args.sizes or DEFAULT_SHAPE_SIZES[x])]:
        print(f"size {docs:,} ({shape}):", flush=True)
        entry = bench_size(docs, args.repeat or (3 if docs <= 20_000 else 1), setup, shape)
        entry["measured_at"] = now()
        entry["code"] = {"git_commit": results["git_commit"], **results["code"]}
        results["sizes"] = [e for e in results["sizes"] if _key(e) != _key(entry)] + [entry]
        results["tool_version"] = entry["tool_version"]
        if not entry["ignored_rules"] or "rules" not in results:
            results["rules"] = entry["rules_enabled"]
        save(results)
    if not args.skip_startup:
        print("start-up:", flush=True)
        results["startup"] = bench_startup(setup)
        save(results)
    if not args.skip_precommit:
        print("pre-commit:", flush=True)
        results["precommit"] = bench_precommit(args.repeat or 3, setup)
        save(results)
    for shape, docs in [(x, n) for x in shapes for n in args.profile]:
        print(f"profile {docs:,} ({shape}):", flush=True)
        prof = bench_profile(docs, setup, shape)
        prof["code"] = {"git_commit": results["git_commit"], **results["code"]}
        results["profiles"] = [q for q in results.get("profiles", []) if _key(q) != _key(prof)] + [prof]
    results["command"] = command
    results["commands"] = [c for c in results.get("commands", []) if c != command] + [command]
    results["updated_at"] = now()
    save(results)
    if not args.no_readme:
        write_readme(results, command)
    print(f"results: {RESULTS.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
