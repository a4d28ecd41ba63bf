"""Generated documentation stays in step with the catalog; every rule documents itself fully."""

from __future__ import annotations

from auditor.catalog import all_rules
from auditor.docs import catalog_markdown, render_explain, rule_markdown
from tests.conftest import ROOT


def test_docs_rules_md_is_up_to_date() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == catalog_markdown(), "docs/rules.md is stale: run `python -m auditor.docs docs/rules.md`"


def test_every_rule_page_has_rationale_fix_and_examples() -> None:
    for rule in all_rules():
        page = rule_markdown(rule)
        assert f"{rule.id} {rule.name}" in page
        assert "Why it bites" in page and "How to fix" in page
        assert "Fails:" in page and "Passes:" in page
        assert rule.help_uri.endswith(f"#{rule.id.lower()}-{rule.name}")


def test_explain_renders_plain_text_without_markup() -> None:
    text = render_explain(all_rules()[0], color=False, width=80)
    assert "\x1b[" not in text and "Why it bites" in text


def test_readme_quick_start_matches_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    start = readme.index("## Quick start")
    block = readme[start:].split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2, "the quick start holds exactly two commands"
    assert "audit examples/" in block[0]
    assert block[1] in ci.splitlines(), ".ci/run must run the README's test command"


def test_docs_show_the_shared_base_once_and_examples_name_their_includes() -> None:
    from auditor.catalog import base_files

    page = catalog_markdown()
    cluster = base_files()["cluster"].rstrip("\n")
    assert page.count(cluster) == 1 and page.index("## Shared base files") < page.index("## CA001")
    ca201 = next(r for r in all_rules() if r.id == "CA201")
    own = rule_markdown(ca201)
    assert "With the shared base files `cluster`, `svc-a`" in own and cluster not in own
    assert "### Fails: allow-list for a cluster IP without preDNAT (findings at policy.yaml:13:7, policy.yaml:17:7)" in own


def test_explain_shows_the_base_files_its_examples_include() -> None:
    ca201 = next(r for r in all_rules() if r.id == "CA201")
    text = render_explain(ca201, color=False, width=120)
    assert "Shared base files" in text and "expectedIPs: [10.0.0.11]" in text and "clusterIP: 10.20.30.40" in text
    ca001 = all_rules()[0]  # includes nothing: no base section
    assert "Shared base files" not in render_explain(ca001, color=False, width=120)
