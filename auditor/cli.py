"""Command line: ``audit [PATH ...]``, ``audit trace --from SRC --to DST [PATH ...]``,
``audit exposure [--base REF] [PATH ...]``, ``audit schemas --export DIR``.

Exit codes: 0 no findings at or above the fail level, 1 findings, 2 usage or internal error,
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor import __version__

if TYPE_CHECKING:
    from auditor.cache import ParseCache

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("console", "sarif", "json", "github", "markdown")


class UsageError(Exception):
    """A problem with how the tool was called (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to audit (default: .), - for stdin")
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip matching paths (repeatable)"
    )
    parser.add_argument("--stdin-filename", metavar="NAME", help="the name to report for input read from -")
    parser.add_argument("--config", metavar="FILE", help="read configuration from FILE")
    parser.add_argument("--isolated", action="store_true", help="ignore configuration files")
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="RULES",
        help="only these rules: IDs, names or prefixes such as CA2 (comma-separated)",
    )
    parser.add_argument("--ignore", action="append", default=[], metavar="RULES", help="skip these rules")
    parser.add_argument(
        "--max-file-size",
        type=_size,
        metavar="BYTES",
        help="refuse files above this size (default 20MiB; suffixes K, M)",
    )
    parser.add_argument(
        "--follow-symlinks", action="store_true", help="follow symlinks that point outside the audited folders"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks; re-raise errors inside rules")
    parser.add_argument("--pure-python", action="store_true", help=argparse.SUPPRESS)


def _size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    clean = text.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        number = float(clean[:-1]) * units[clean[-1]] if clean and clean[-1] in units else float(clean)
    except ValueError:
        number = float("nan")
    if not (1 <= number < 1 << 50):  # also rejects nan and inf
        raise argparse.ArgumentTypeError(f"not a file size: {text!r} (e.g. 20M, 512K, 1048576)")
    return int(number)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit",
        description="Static auditor for Calico network policy: finds the pitfalls of exposing Service cluster IPs "
        "over BGP, with file, line and column for every finding.",
        epilog="Subcommands: `audit trace --from SRC --to IP:PORT/PROTO [PATH ...]` explains one flow; "
        "`audit exposure [--base REF] [PATH ...]` maps (or diffs) what outside sources reach; "
        "`audit schemas --export DIR` writes JSON Schemas for editors. "
        "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or internal error.",
    )
    _common(parser)
    parser.add_argument("--format", choices=FORMATS, default="console", help="report format (default: console)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--sarif", metavar="FILE", help="also write SARIF to FILE (for code scanning)")
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "note", "never"),
        help="lowest severity that fails the run (default: warning)",
    )
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings (errors still exit 2)")
    parser.add_argument("--show-suppressed", action="store_true", help="list suppressed findings too")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing; report by exit code")
    parser.add_argument("--statistics", action="store_true", help="print counts per rule only")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="console colors")
    parser.add_argument("--baseline", metavar="FILE", help="accept the findings recorded in FILE; only new ones fail")
    parser.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0")
    parser.add_argument("--pre-commit", action="store_true",
                        help="pre-commit mode: audit the whole configured tree, report only the PATHs given")
    parser.add_argument("--report", choices=("changed", "all"),
                        help="with --pre-commit: findings in the changed files only (default) or all")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache of parsed files")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="folder of the cache of parsed files (default: .calico-audit-cache; may be deleted)")
    parser.add_argument("--fix", action="store_true",
                        help="apply the safe fixes in place, then report what remains")
    parser.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff: also apply fixes that change behaviour beyond the finding")
    parser.add_argument("--show-config", action="store_true", help="print the effective configuration and exit")
    parser.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    parser.add_argument("--explain", metavar="RULE", help="show a rule's documentation and exit")
    parser.add_argument("--version", action="version", version=f"calico-audit {__version__}")
    return parser


def build_trace_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="audit trace", description="Explain how Calico and kube-proxy treat one flow from outside.")
    _common(parser)
    parser.add_argument("--from", dest="source", default="", metavar="IP|CIDR", help="client address or range")
    parser.add_argument(
        "--to", dest="destination", required=True, metavar="IP:PORT/PROTO", help="destination, e.g. 10.96.20.15:443/TCP"
    )
    parser.add_argument("--via", default="", metavar="HOSTENDPOINT", help="only through this host endpoint")
    parser.add_argument(
        "--service", default="", metavar="NAMESPACE/NAME", help="the --to address is this Service's assigned cluster IP"
    )
    parser.add_argument(
        "--egress", action="store_true", help="trace traffic the host behind --via sends to --to (host egress)"
    )
    parser.add_argument("--cluster", metavar="NAME", help="with clusters configured: the cluster to trace in")
    parser.add_argument("--format", choices=("console", "json"), default="console")
    parser.add_argument("-o", "--output", metavar="FILE")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    return parser


def _is_trace(argv: Sequence[str]) -> bool:
    """``trace`` is the subcommand only when flow options follow; ``audit trace`` alone audits a folder named trace."""
    if not argv or argv[0] != "trace":
        return False
    rest = argv[1:]
    flow = any(a in ("--from", "--to", "-h", "--help") or a.startswith(("--from=", "--to=")) for a in rest)
    return flow or not os.path.exists("trace")


def build_exposure_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit exposure",
        description="The exposure map: which outside sources reach every advertised Service address and node "
        "port, through which host endpoints; with --base REF, the flows the working tree opens and closes "
        "compared with a git revision.",
    )
    _common(parser)
    parser.add_argument("--base", metavar="REF", help="compare with this git revision (read through git, no checkout)")
    parser.add_argument("--fail-on-open", action="store_true", help="with --base: exit 1 when a flow is opened")
    parser.add_argument("--format", choices=("console", "json", "markdown"), default="console")
    parser.add_argument("-o", "--output", metavar="FILE")
    return parser


_EXPOSURE_OPTIONS = ("--base", "--fail-on-open", "--format", "-o", "--output", "-h", "--help")


def _is_exposure(argv: Sequence[str]) -> bool:
    """``exposure`` is the subcommand when exposure options follow or no folder is named exposure."""
    if not argv or argv[0] != "exposure":
        return False
    rest = argv[1:]
    options = any(a in _EXPOSURE_OPTIONS or a.startswith(("--base=", "--format=", "--output=")) for a in rest)
    return options or not os.path.exists("exposure")


def build_schemas_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit schemas",
        description="Export the JSON Schemas (draft-07) of every Calico kind and the Kubernetes kinds calico-audit "
        "reads, for editors that use the YAML language server (VS Code, Neovim, JetBrains).",
    )
    parser.add_argument(
        "--export", required=True, metavar="DIR", help="write one schema per kind, all.json and catalog.json into DIR"
    )
    return parser


def _is_schemas(argv: Sequence[str]) -> bool:
    """``schemas`` is the subcommand only when ``--export`` follows; ``audit schemas`` alone audits a folder."""
    if not argv or argv[0] != "schemas":
        return False
    rest = argv[1:]
    export = any(a in ("--export", "-h", "--help") or a.startswith("--export=") for a in rest)
    return export or not os.path.exists("schemas")


def _split(values: Sequence[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _use_color(choice: str, stream: object) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class OutputError(Exception):
    """A report that could not be written (exit code 2, no traceback)."""


def write_atomic(path: str, text: str) -> None:
    """Write via a temporary file and rename, so a failed write never leaves a partial report.

    A symlink is resolved (the link stays a link); a path that is not a regular file, such as
    ``/dev/stdout``, a FIFO or ``/dev/full``, is written in place: renaming over it would
    replace the device. Raises :class:`OutputError` for any failure.
    """
    import stat
    import tempfile

    try:
        try:
            mode: int | None = os.stat(path).st_mode  # follows symlinks: /dev/stdout is a pipe or a tty
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise OutputError(f"cannot write the report to {path}: it is a folder")
        if mode is not None and not stat.S_ISREG(mode):
            with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as out:
                out.write(text)
            return
        real = os.path.realpath(path)
        folder = os.path.dirname(real)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".calico-audit-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~umask)
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def _emit(text: str, output: str | None) -> None:
    if output:
        write_atomic(output, text)
        return
    if not text:
        return
    text = text if text.endswith("\n") else text + "\n"
    # Never fail on what the terminal cannot encode (a file name with undecodable bytes, a
    # non-UTF-8 locale): escape it instead.
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    text = text.encode(encoding, "backslashreplace").decode(encoding, "replace")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`audit ... | head`): the audit is done, so the exit code still
        # tells about findings; send what is left to /dev/null so the exit flush stays quiet.
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        if _is_trace(args_list):
            return _trace(args_list[1:])
        if _is_schemas(args_list):
            return _schemas(args_list[1:])
        if _is_exposure(args_list):
            return _exposure(args_list[1:])
        return _audit(args_list)
    except UsageError as exc:
        sys.stderr.write(f"audit: error: {exc}\nTry 'audit --help'.\n")
        return EXIT_ERROR
    except OutputError as exc:
        sys.stderr.write(f"audit: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("\naudit: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`audit ... | head`): stop quietly.
        _stdout_to_devnull()
        return EXIT_ERROR if debug else EXIT_OK
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(f"audit: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)\n")
        return EXIT_ERROR


def _configure(args: argparse.Namespace) -> object:
    from auditor import catalog
    from auditor.config import ConfigError, load_config

    try:
        config = load_config(
            explicit=args.config,
            isolated=args.isolated,
            overrides={
                "select": _split(args.select) or None,
                "ignore": _split(args.ignore) or None,
                "fail-on": getattr(args, "fail_on", None),
                "exclude": args.exclude or None,
                "max-file-size": args.max_file_size,
                "cache-dir": getattr(args, "cache_dir", None),
            },
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for key in [*config.select, *config.ignore, *config.extend_select]:
        if not catalog.is_known_selector(key):
            raise UsageError(f"unknown rule or prefix {key!r} (see --list-rules)")
    for key in catalog.unknown_rules(config.severity):
        raise UsageError(f"{config.source}: severity: unknown rule {key!r} (see --list-rules)")
    return config


def _audit(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from auditor import catalog

    if args.list_rules:
        return _list_rules(args)
    if args.explain:
        rule = catalog.find(args.explain)
        if rule is None:
            raise UsageError(f"unknown rule {args.explain!r} (see --list-rules)")
        from auditor.docs import render_explain

        _emit(render_explain(rule, color=_use_color(args.color, sys.stdout)), args.output)
        return EXIT_OK
    config = _configure(args)
    if args.show_config:
        import json

        _emit(f"# from: {config.source}\n" + json.dumps(config.as_mapping(), indent=2), args.output)
        return EXIT_OK
    from auditor.load import Limits, display_path
    from auditor.report import render
    from auditor.run import AuditResult, audit
    from auditor.suppress import BaselineError, write_baseline

    if TYPE_CHECKING:
        from auditor.findings import Finding

    changed: set[str] | None = None
    if args.pre_commit:
        changed = {display_path(p) for p in args.paths}
        paths = config.include or ["."]
        if (args.report or config.pre_commit_report) == "all":
            changed = None
    else:
        paths = args.paths or config.include or ["."]
    limits = Limits(max_file_bytes=config.max_file_size, follow_symlinks_outside=args.follow_symlinks)
    if (args.fix or args.diff) and "-" in paths:
        raise UsageError("--fix and --diff rewrite files: they cannot work on input read from - (stdin)")
    if args.unsafe_fixes and not (args.fix or args.diff):
        raise UsageError("--unsafe-fixes needs --fix or --diff")

    cache = _cache(args, config)

    def run_audit() -> AuditResult:
        try:
            result = audit(paths, config, limits, stdin_name=args.stdin_filename or "-", debug=args.debug,
                           pure=args.pure_python, baseline=args.baseline, cache=cache, focus=changed)
        except FileNotFoundError as exc:
            raise UsageError(f"no such file or folder: {exc.args[0]}") from None
        except BaselineError as exc:
            raise UsageError(str(exc)) from None
        return result

    result = run_audit()
    if args.fix or args.diff:
        from auditor import fix

        def reaudit() -> list[Finding]:
            nonlocal result
            result = run_audit()
            return result.findings

        try:
            done = fix.run(result.findings, args.unsafe_fixes, dry=args.diff, reaudit=reaudit)
        except OSError as exc:
            raise OutputError(f"cannot write a fixed file: {exc.strerror or exc}") from None
        if not args.quiet:
            sys.stderr.write("".join(f"audit: {line}\n" for line in done.summary(args.diff).splitlines()))
        if args.diff:
            _emit(done.diff(), args.output)
            return EXIT_FINDINGS if done.files else EXIT_OK
    if args.write_baseline:
        write_atomic(args.write_baseline, write_baseline(result.findings))
        active = sum(1 for f in result.findings if f.suppression is None and not f.internal_error)
        sys.stderr.write(f"audit: wrote {active} finding(s) to baseline {args.write_baseline}\n")
        return EXIT_ERROR if result.internal_errors else EXIT_OK
    color = _use_color(args.color, sys.stdout) if not args.output else False
    text = render(result, args.format, color=color, show_suppressed=args.show_suppressed,
                  statistics=args.statistics, quiet=args.quiet)
    if args.sarif:
        write_atomic(args.sarif, render(result, "sarif"))
    _emit(text, args.output)
    if args.format == "sarif" or args.sarif:
        from auditor.report.sarif import capped_note

        note = capped_note(result)
        if note:
            sys.stderr.write(f"audit: {note}\n")
    if result.internal_errors:
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if result.failing() else EXIT_OK


def _cache(args: argparse.Namespace, config: object) -> ParseCache | None:
    """The parse cache of this run (None with --no-cache, or under CI without an explicit folder)."""
    if args.no_cache:
        return None
    from auditor.cache import ParseCache
    from auditor.config import cache_folder

    folder = cache_folder(config)  # type: ignore[arg-type]
    return ParseCache(folder) if folder else None


def _list_rules(args: argparse.Namespace) -> int:
    import json

    from auditor import catalog

    rules = catalog.all_rules()
    if args.format == "json":
        payload = [
            {"id": r.id, "name": r.name, "severity": r.severity.label, "title": r.title, "help_uri": r.help_uri,
             "fix": r.autofix}
            for r in rules
        ]
        _emit(json.dumps(payload, indent=2), args.output)
        return EXIT_OK
    from auditor.docs import render_rule_table

    _emit(render_rule_table(rules, color=_use_color(args.color, sys.stdout)), args.output)
    return EXIT_OK


def _trace(argv: list[str]) -> int:
    args = build_trace_parser().parse_args(argv)
    config = _configure(args)
    from auditor.load import Limits
    from auditor.run import ClusterError, load_model
    from auditor.trace import TraceError, render_trace, trace_flow

    if not args.source and not args.egress:
        raise UsageError("audit trace: --from IP|CIDR is required (or --egress --via HOSTENDPOINT)")
    limits = Limits(max_file_bytes=config.max_file_size, follow_symlinks_outside=args.follow_symlinks)
    try:
        _, model = load_model(
            args.paths or ["."], config, limits, stdin_name=args.stdin_filename or "-", cluster=args.cluster
        )
        answer = trace_flow(
            model, config, args.source, args.destination, via=args.via, egress=args.egress, service=args.service
        )
    except FileNotFoundError as exc:
        raise UsageError(f"no such file or folder: {exc.args[0]}") from None
    except (TraceError, ClusterError) as exc:
        raise UsageError(str(exc)) from None
    color = _use_color(args.color, sys.stdout) if not args.output else False
    _emit(render_trace(answer, args.format, color=color), args.output)
    return EXIT_OK


def _exposure(argv: list[str]) -> int:
    args = build_exposure_parser().parse_args(argv)
    config = _configure(args)
    from auditor.exposure import ExposureError, exposure_diff, load_paths, maps_of, render_diff, render_map
    from auditor.load import Limits

    if args.fail_on_open and not args.base:
        raise UsageError("audit exposure: --fail-on-open needs --base REF")
    limits = Limits(max_file_bytes=config.max_file_size, follow_symlinks_outside=args.follow_symlinks)
    paths = args.paths or config.include or ["."]
    try:
        if args.base:
            diff = exposure_diff(args.base, paths, config, limits)
            _emit(render_diff(diff, args.format), args.output)
            return EXIT_FINDINGS if args.fail_on_open and diff.opened else EXIT_OK
        maps = maps_of(load_paths(paths, config, limits, stdin_name=args.stdin_filename or "-"), config)
    except FileNotFoundError as exc:
        raise UsageError(f"no such file or folder: {exc.args[0]}") from None
    except ExposureError as exc:
        raise UsageError(str(exc)) from None
    _emit(render_map(maps, args.format), args.output)
    return EXIT_OK


def _schemas(argv: list[str]) -> int:
    args = build_schemas_parser().parse_args(argv)
    from auditor.schema_export import export

    if os.path.exists(args.export) and not os.path.isdir(args.export):
        raise OutputError(f"cannot export the schemas to {args.export}: it is not a folder")
    try:
        result = export(args.export)
    except OSError as exc:
        raise OutputError(f"cannot export the schemas to {args.export}: {exc.strerror or exc}") from None
    sys.stderr.write(
        f"audit: wrote {len(result.files)} files ({len(result.kinds)} apiVersion/kind pairs) to {args.export}; "
        "map all.json to your manifests in yaml.schemas\n"
    )
    return EXIT_OK


def entry() -> None:
    """The ``audit`` command: :func:`main`, then a quick exit.

    An audit leaves millions of objects alive; tearing them down one by one at interpreter exit took
    a tenth of a 10k-document pre-commit run (0.4 s) and decides nothing. Every report is written and
    closed by then (files through a rename; the parse cache's writer is waited for), so after flushing
    the standard streams the process ends at once with :func:`main`'s exit code.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout:  # the reader went away (`audit ... | head`)
                _stdout_to_devnull()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
