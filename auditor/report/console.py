"""The console report: findings grouped by file with code frames, a per-rule table and a verdict.

::

    policies/allow.yaml:12:15: error CA004 invalid-cidr
      "10.96.0.0/33" is not a valid CIDR: prefix length 33 is longer than 32 bits
         |
      11 |     - action: Allow
      12 |       nets: ["10.96.0.0/33"]
         |              ^~~~~~~~~~~~~~
      13 |       ports: [80]
         |
         = note: the Service is declared here at services/web.yaml:4:3
         = fix: Set the prefix length to at most 32.

The layout (wrapping, code frames, tables) is computed here in plain text, with display widths
taken from the Unicode tables, so it is identical with and without colour; rich only paints it.
With ``color=False`` rich is not even imported; with colour, rich's ``Style`` writes the ANSI codes.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.engine import sub_id
from auditor.findings import Finding, Severity, Span
from auditor.report.common import (
    RuleCount,
    by_cluster,
    clean_span,
    cluster_phrase,
    failed,
    internal_errors,
    plural,
    problems,
    rule_counts,
    summary_line,
)

if TYPE_CHECKING:
    from auditor.loader import SourceFile
    from auditor.run import AuditResult

# A line is a list of (text, style) segments; style "" is unstyled.
Segment = tuple[str, str]
Line = list[Segment]

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.NOTE: "bold cyan"}
GUTTER = "bold blue"
INTERNAL = "bold white on red"
CLUSTER = "bold magenta"
MIN_WIDTH = 40
INDENT = "  "


# ------------------------------------------------------------------------------------------
# Terminal decisions (only when the caller did not decide)
# ------------------------------------------------------------------------------------------


def want_color(color: bool | None) -> bool:
    """``color`` when given; otherwise NO_COLOR, FORCE_COLOR, then whether stdout is a terminal."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def terminal_width(width: int | None) -> int:
    if width is None:
        width = shutil.get_terminal_size(fallback=(80, 24)).columns
    return max(width, MIN_WIDTH)


# ------------------------------------------------------------------------------------------
# Display widths
# ------------------------------------------------------------------------------------------


def char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def _clean(text: str) -> str:
    """A source line made safe to print: tabs and control characters become one space each, so
    that columns (counted in characters) still line up."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)


def wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Wrap ``text`` (paragraphs split on newlines) without breaking words, paths or hyphens."""
    out: list[str] = []
    for i, paragraph in enumerate(text.splitlines() or [""]):
        lines = textwrap.wrap(
            paragraph,
            width=max(width, len(rest) + 10),
            initial_indent=first if i == 0 else rest,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        out.extend(lines or [(first if i == 0 else rest).rstrip()])
    return out


# ------------------------------------------------------------------------------------------
# Code frames
# ------------------------------------------------------------------------------------------


def _window(text: str, start: int, stop: int, room: int) -> tuple[str, int, int]:
    """Cut ``text`` to ``room`` cells keeping ``text[start:stop]`` (the span) in view.

    Returns the visible text (with ``…`` where cut) and the caret offset and length in cells.
    """
    start = min(start, len(text))
    stop = max(min(stop, len(text)), start)
    if text_width(text) <= room:
        return text, text_width(text[:start]), max(text_width(text[start:stop]), 1)
    # Show a third of the room as left context, then as much as fits.
    left = start
    used = 0
    while left > 0 and used + char_width(text[left - 1]) <= room // 3:
        left -= 1
        used += char_width(text[left])
    prefix = "…" if left > 0 else ""
    budget = room - len(prefix)
    right = left
    used = 0
    while right < len(text) and used + char_width(text[right]) <= budget:
        used += char_width(text[right])
        right += 1
    if right < len(text):  # make room for the closing ellipsis
        while right > left and used + 1 > budget:
            right -= 1
            used -= char_width(text[right])
        visible = prefix + text[left:right] + "…"
    else:
        visible = prefix + text[left:right]
    offset = len(prefix) + text_width(text[left:start])
    length = text_width(text[start : min(stop, right)])
    return visible, offset, max(length, 1)


def code_frame(file: SourceFile | None, span: Span, width: int, style: str) -> tuple[list[Line], int]:
    """The lines of a code frame and the gutter width (0 when there is no frame)."""
    if file is None or not file.lines:
        return [], 0
    span = clean_span(span)
    lines = file.lines
    first, last = span.line, max(span.end_line, span.line)
    if not 1 <= first <= len(lines):
        return [], 0
    last = min(last, len(lines))
    shown: list[int] = []
    if first > 1:
        shown.append(first - 1)
    shown.append(first)
    if last - first > 3:
        shown.append(-1)  # elided middle
    else:
        shown.extend(range(first + 1, last))
    if last > first:
        shown.append(last)
    if last < len(lines):
        shown.append(last + 1)
    gutter = len(str(max(shown)))
    room = max(width - len(INDENT) - gutter - 3, 10)
    blank = " " * gutter
    out: list[Line] = [[(INDENT + blank + " |", GUTTER)]]
    for number in shown:
        if number == -1:
            out.append([(INDENT + "...", GUTTER)])
            continue
        text = _clean(lines[number - 1].rstrip())
        underline: tuple[int, int] | None = None
        if number == first:
            stop = span.end_column - 1 if last == first else len(text)
            text_shown, offset, length = _window(text, span.column - 1, stop, room)
            underline = (offset, length)
        elif number == last:
            indent = len(text) - len(text.lstrip())
            text_shown, offset, length = _window(text, indent, span.end_column - 1, room)
            underline = (offset, length)
        else:
            text_shown, _, _ = _window(text, 0, 0, room)
        gutter_text = f"{INDENT}{number:>{gutter}} |"
        out.append([(gutter_text, GUTTER), ((" " + text_shown) if text_shown else "", "")])
        if underline is not None:
            offset, length = underline
            carets = "^" + "~" * (length - 1) if number == first else "~" * (length - 1) + "^"
            out.append([(INDENT + blank + " |", GUTTER), (" " + " " * offset, ""), (carets, style)])
    out.append([(INDENT + blank + " |", GUTTER)])
    return out, gutter


# ------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------


def _header(f: Finding, width: int, suppressed: bool) -> list[Line]:
    place = str(f.location) + ":"
    sev = f.severity.label
    shown_id = sub_id(f) or f.rule_id  # CA007/ippool-block-size for a sub-check's finding
    tail: Line = [(sev, SEVERITY_STYLE[f.severity]), (" ", ""), (shown_id, "bold"), (" " + f.rule_name, "")]
    if suppressed:
        tail.append((" (suppressed)", "italic"))
    tail_len = sum(len(t) for t, _ in tail)
    if len(place) + 1 + tail_len <= width:
        return [[(place, "bold"), (" ", ""), *tail]]
    return [[(place, "bold")], [(INDENT, ""), *tail]]


def finding_block(f: Finding, files: dict[str, SourceFile], width: int, suppressed: bool = False) -> list[Line]:
    if f.internal_error:
        return internal_block(f, width)
    out = _header(f, width, suppressed)
    out += [[(text, "")] for text in wrap(f.message, width, INDENT, INDENT)]
    frame, gutter = code_frame(files.get(f.location.path), f.location.span, width, SEVERITY_STYLE[f.severity])
    out += frame
    pad = INDENT + " " * (gutter + 1) if gutter else INDENT
    for loc, message in f.related:
        text = f"{message or loc.description} at {loc}"
        out += _labelled(pad, "= note: ", text, width, "bold")
    if f.witness is not None:
        w = f.witness
        out += _labelled(pad, "= witness: ", w.summary, width, "bold")
        if w.command:
            out += _labelled(pad, "= trace: ", w.command, width, "bold")
        for assumption in w.assumptions:
            out += _labelled(pad, "= assumed: ", assumption, width, "bold")
    if f.fix:
        out += _labelled(pad, "= fix: ", f.fix, width, "bold green")
    if f.suppression is not None:
        s = f.suppression
        out += _labelled(pad, f"= suppressed ({s.source}): ", s.justification or "(no reason given)", width, "bold")
    if suppressed:
        out = [[(text, (style + " dim").strip()) for text, style in line] for line in out]
    return out


def _labelled(pad: str, label: str, text: str, width: int, style: str) -> list[Line]:
    lines = wrap(text, width, pad + label, pad + " " * len(label))
    first = lines[0]
    out: list[Line] = [[(pad, ""), (label.rstrip(), style), (first[len(pad) + len(label.rstrip()) :], "")]]
    out += [[(line, "")] for line in lines[1:]]
    return out


def internal_block(f: Finding, width: int) -> list[Line]:
    shown_id = sub_id(f) or f.rule_id
    out: list[Line] = [[(" internal error ", INTERNAL), (" ", ""), (shown_id, "bold"), (" " + f.rule_name, "")]]
    if f.cluster:
        out[0].append((f" in {cluster_phrase(f)}", ""))
    out += [[(text, "bold")] for text in wrap(f.message, width, INDENT, INDENT)]
    return out


def table(rows: Sequence[RuleCount], width: int) -> list[Line]:
    """Counts per rule: ``Rule  Name  Severity  Count``, fitted to ``width``."""
    if not rows:
        return []
    id_w = max(4, *(len(r.rule_id) for r in rows))
    count_w = max(5, *(len(f"{r.count:,}") for r in rows))
    sev_w = 8
    fixed = id_w + 2 + 2 + sev_w + 2 + count_w
    name_w = max(4, min(max(len(r.name) for r in rows), width - fixed))

    def fit(name: str) -> str:
        return name if len(name) <= name_w else name[: name_w - 1] + "…"

    head = f"{'Rule':<{id_w}}  {'Name':<{name_w}}  {'Severity':<{sev_w}}  {'Count':>{count_w}}"
    out: list[Line] = [[(head, "bold")]]
    for r in rows:
        out.append(
            [
                (f"{r.rule_id:<{id_w}}  {fit(r.name):<{name_w}}  ", ""),
                (f"{r.severity.label:<{sev_w}}", SEVERITY_STYLE[r.severity]),
                (f"  {r.count:>{count_w},}", ""),
            ]
        )
    return out


# ------------------------------------------------------------------------------------------
# Putting it together
# ------------------------------------------------------------------------------------------


def build(result: AuditResult, width: int, show_suppressed: bool = False) -> list[Line]:
    files = result.files
    shown = [f for f in result.findings if (show_suppressed or f.suppression is None) and not f.internal_error]
    shown.sort(key=Finding.sort_key)  # the engine sorts already; a reporter must not depend on it
    out: list[Line] = []
    for label, in_cluster in by_cluster(result, shown):
        if label:  # clusters are configured: a heading per cluster
            active = sum(1 for f in in_cluster if f.suppression is None)
            out.append([(f"== {cluster_phrase(in_cluster[0])} ==", CLUSTER), (f" ({plural(active, 'problem')})", "")])
            out.append([])
        groups: dict[str, list[Finding]] = {}
        for f in in_cluster:
            groups.setdefault(f.location.path, []).append(f)
        for path, group in groups.items():
            active = sum(1 for f in group if f.suppression is None)
            count = plural(active, "problem")
            hidden = len(group) - active
            if hidden:
                count += f", {hidden:,} suppressed"
            out.append([(path, "bold underline"), (f" ({count})", "")])
            out.append([])
            for f in group:
                out += finding_block(f, files, width, suppressed=f.suppression is not None)
                out.append([])
    for f in internal_errors(result):
        out += internal_block(f, width)
        out.append([])
    for note in result.notes:
        out += [[(text, "")] for text in wrap(note, width, "note: ", "      ")]
    if result.notes:
        out.append([])
    rows = table(rule_counts(problems(result)), width)
    if rows:
        out += rows
        out.append([])
    style = _verdict_style(result)
    out += [[(text, style)] for text in wrap(summary_line(result), width, "", "")]
    return out


def _verdict_style(result: AuditResult) -> str:
    if failed(result):
        return "bold red"
    if problems(result):
        return "bold yellow"
    return "bold green"


def _trim(line: Line) -> Line:
    """``line`` without trailing whitespace (in whichever segments it sits)."""
    out = list(line)
    while out:
        text, style = out[-1]
        stripped = text.rstrip()
        if stripped:
            out[-1] = (stripped, style)
            break
        out.pop()
    return out


def safe(text: str) -> str:
    """``text`` without control, format (bidi overrides …) or line-separator characters, which
    could drive the terminal; each becomes one U+FFFD so the layout does not move."""
    if text.isascii() and text.isprintable():
        return text
    return "".join("\ufffd" if unicodedata.category(ch) in _UNSAFE else ch for ch in text)


_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def emit(lines: list[Line], color: bool) -> str:
    """Join the lines; with ``color``, paint each styled segment with ANSI codes (16 colours,
    whatever the environment says, so the bytes are the same everywhere)."""
    if not lines:
        return ""
    if not color:
        return "".join(safe("".join(text for text, _ in line).rstrip()) + "\n" for line in lines)
    from rich.color import ColorSystem
    from rich.style import Style

    styles: dict[str, Style] = {}

    def paint(text: str, style: str) -> str:
        text = safe(text)
        if not style or not text:
            return text
        parsed = styles.get(style)
        if parsed is None:
            parsed = styles[style] = Style.parse(style)
        return parsed.render(text, color_system=ColorSystem.STANDARD)

    return "".join("".join(paint(text, style) for text, style in _trim(line)) + "\n" for line in lines)


def render(
    result: AuditResult,
    *,
    color: bool | None = None,
    width: int | None = None,
    show_suppressed: bool = False,
    statistics: bool = False,
    quiet: bool = False,
) -> str:
    """The console report. ``quiet``: nothing (the exit code speaks). ``statistics``: only the
    per-rule table (like ``ruff --statistics``), empty when there is nothing to count."""
    if quiet:
        return ""
    width = terminal_width(width)
    lines = table(rule_counts(problems(result)), width) if statistics else build(result, width, show_suppressed)
    return emit(lines, want_color(color))
