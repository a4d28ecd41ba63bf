"""Rule documentation rendered from the catalog: `--explain`, `--list-rules` and docs/rules.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.catalog import Example, Rule, all_rules, base_files


def _fence(text: str) -> str:
    return "```yaml\n" + text.rstrip("\n") + "\n```"


def rule_markdown(rule: Rule, heading: str = "##", sub_checks: bool = True, base: bool = False) -> str:
    """The full documentation of one rule, as Markdown (``sub_checks``: with the table of its sub-checks;
    ``base``: with the shared base files its examples include, which docs/rules.md shows once in its intro)."""
    parts = [
        f"{heading} {rule.id} {rule.name}",
        "",
        f"**{rule.title}**",
        "",
        f"Default severity: `{rule.severity.label}`" + (f" · Guide step: {rule.guide_step}" if rule.guide_step else ""),
        "",
        f"{heading}# Why it bites",
        "",
        rule.rationale,
        "",
        f"{heading}# How to fix",
        "",
        rule.remediation,
        "",
        _fix_line(rule),
        "",
    ]
    if rule.sub_checks and sub_checks:
        parts += _sub_check_table(rule, heading)
    for example in rule.examples:
        parts += _example_markdown(example, heading)
    if base:
        parts += _base_markdown(sorted({name for example in rule.examples for name in example.includes}), heading)
    if rule.references:
        parts += [f"{heading}# References", ""] + [f"- <{ref}>" for ref in rule.references] + [""]
    return "\n".join(parts).rstrip() + "\n"


def _example_markdown(example: Example, heading: str) -> list[str]:
    """One example: its verdict, title and finding places, the base files it includes (by name), its own files."""
    verdict = "Fails" if example.failing else "Passes"
    places = sorted(example.expect, key=lambda p: (p.split(":")[0], *(int(n) for n in p.split(":")[1:])))
    shown = [p.partition(":")[2] if len(example.files) == 1 else p for p in places]
    where = f" (findings at {', '.join(shown)})" if shown else ""
    parts = [f"{heading}# {verdict}: {example.title}{where}", ""]
    if example.includes:
        names = ", ".join(f"`{name}`" for name in example.includes)
        what = "files" if len(example.includes) > 1 else "file"
        rest = ", plus:" if example.own_files else " alone."
        parts += [f"With the shared base {what} {names} (see *Shared base files*){rest}", ""]
    for name, text in example.own_files.items():
        if len(example.files) > 1:
            parts += [f"`{name}`", ""]
        parts += [_fence(text), ""]
    if example.config:
        settings = "\n".join(f"{k} = {v!r}" for k, v in example.config.items())
        parts += ["With configuration:", "", "```toml\n[tool.calico-audit]\n" + settings + "\n```", ""]
    return parts


def _base_markdown(names: Sequence[str], heading: str) -> list[str]:
    """The shared base files ``names`` (docs/rules.md shows them all once; ``--explain`` the rule's own)."""
    if not names:
        return []
    files = base_files()
    parts = [
        f"{heading}# Shared base files",
        "",
        "Examples include these files by name (`# include: cluster`, from `rules/examples/_base/`): each is "
        "audited as `<name>.yaml` beside the example's own files (docs/rule-examples.md: how to add an example).",
        "",
    ]
    for name in names:
        parts += [f"`{name}` (`{name}.yaml`)", "", _fence(files[name]), ""]
    return parts


def _fix_line(rule: Rule) -> str:
    """Whether ``audit --fix`` fixes the rule's findings, and how."""
    if rule.autofix is None:
        return "Automatic fix: none."
    how = "`audit --fix`" if rule.autofix == "safe" else "`audit --fix --unsafe-fixes` (it changes behaviour)"
    return f"Automatic fix: {rule.autofix}, with {how}: {rule.autofix_text.rstrip('.')}."


_POLICY_KINDS = ("GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy")


def _kinds_text(kinds: Sequence[str]) -> str:
    if "*" in kinds:
        return "every kind in scope"
    if not all(k in kinds for k in _POLICY_KINDS):
        return ", ".join(kinds)
    return ", ".join(["Calico policies (staged too)", *(k for k in kinds if k not in _POLICY_KINDS)])


def _sub_check_table(rule: Rule, heading: str) -> list[str]:
    """The rule's sub-checks: each can be selected, ignored and suppressed by its sub-ID."""
    lines = [
        f"{heading}# Sub-checks",
        "",
        f"Each finding names its sub-check. Select, ignore or suppress one by its sub-ID "
        f"(`--ignore {rule.sub_checks[0].id}`, `# calico-audit: ignore[{rule.sub_checks[0].id}] reason`) or all "
        f"sub-checks of a kind by prefix (`{rule.sub_checks[0].id.rsplit('-', 1)[0]}`); `{rule.id}` means all of them.",
        "",
        "| sub-ID | kinds | what it checks |",
        "| --- | --- | --- |",
    ]
    for sub in rule.sub_checks:
        kinds = _kinds_text(sub.kinds)
        title = sub.title.replace("|", r"\|")
        lines.append(f"| `{sub.id}` | {kinds} | {title} |")
    return lines + [""]


def catalog_markdown(rules: Sequence[Rule] | None = None) -> str:
    """docs/rules.md: the index table and every rule's page."""
    rules = tuple(rules or all_rules())
    lines = [
        "# calico-audit rules",
        "",
        "<!-- Generated from the rule catalog by `python -m auditor.docs`; do not edit by hand. -->",
        "",
        "| ID | name | severity | what it catches |",
        "| --- | --- | --- | --- |",
    ]
    for rule in rules:
        anchor = f"{rule.id.lower()}-{rule.name}"
        lines.append(f"| [{rule.id}](#{anchor}) | `{rule.name}` | {rule.severity.label} | {rule.title} |")
    lines.append("")
    lines += _base_markdown(sorted(base_files()), "#")
    for rule in rules:
        lines.append(rule_markdown(rule))
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:  # pragma: no cover - exercised through the docs freshness test
    import pathlib
    import sys

    target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(catalog_markdown(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":  # pragma: no cover
    main()


def _console(color: bool, width: int | None = None) -> tuple[Any, Any]:  # rich is imported lazily
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width or 100,
        color_system="standard" if color else None,
        highlight=False,
    )
    return console, buffer


def render_explain(rule: Rule, color: bool = False, width: int | None = None) -> str:
    """``audit --explain RULE``: the rule's documentation rendered for the terminal."""
    from rich.markdown import Markdown

    console, buffer = _console(color, width)
    console.print(Markdown(rule_markdown(rule, heading="#", sub_checks=False, base=True), code_theme="ansi_dark"))
    if rule.sub_checks:
        _print_sub_checks(console, rule)
    return buffer.getvalue()


def _print_sub_checks(console: Any, rule: Rule) -> None:
    """The sub-check table for the terminal: sub-IDs are never cut (users copy them into ignore lists)."""
    from rich.markdown import Markdown
    from rich.table import Table

    intro = "\n".join(_sub_check_table(rule, "#")[:3])
    console.print(Markdown(intro))
    table = Table(box=None, pad_edge=False, show_lines=False)
    table.add_column("sub-ID", no_wrap=True)
    table.add_column("kinds", overflow="fold", ratio=1)
    table.add_column("what it checks", overflow="fold", ratio=2)
    for sub in rule.sub_checks:
        table.add_row(sub.id, _kinds_text(sub.kinds), sub.title.replace("`", ""))
    console.print(table)


def render_rule_table(rules: Sequence[Rule], color: bool = False, width: int | None = None) -> str:
    """``audit --list-rules``: one row per rule."""
    from rich.table import Table

    console, buffer = _console(color, width)
    table = Table(show_lines=False, box=None, pad_edge=False)
    for column in ("ID", "name", "severity", "what it catches"):
        table.add_column(column, overflow="fold")
    styles = {"error": "red", "warning": "yellow", "note": "cyan"}
    for rule in rules:
        level = rule.severity.label
        table.add_row(rule.id, rule.name, f"[{styles[level]}]{level}[/]", rule.title)
    console.print(table)
    return buffer.getvalue()
