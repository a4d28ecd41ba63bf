"""A rule takes its contract from ``auditor.api`` in one import, never from the core modules behind it."""

from __future__ import annotations

import ast
from pathlib import Path

import auditor.api as api
from auditor.api import CONTRACT_MODULES
from auditor.catalog import all_rules

RULES = Path(__file__).resolve().parent.parent / "rules"


def _imports(path: Path) -> list[ast.ImportFrom]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.ImportFrom)]


def _core_imports(path: Path) -> list[str]:
    return [f"{path.name}:{n.lineno} from {n.module}" for n in _imports(path) if n.module in CONTRACT_MODULES]


def test_rule_modules_import_the_contract_from_auditor_api_only() -> None:
    modules = sorted(RULES.glob("*.py"))
    assert len([m for m in modules if m.name.startswith("ca")]) == len(all_rules())
    offenders = [line for path in modules for line in _core_imports(path)]
    assert offenders == []


def test_every_rule_module_has_one_api_import() -> None:
    for path in sorted(RULES.glob("ca[0-9]*.py")):
        api_imports = [n for n in _imports(path) if n.module == "auditor.api"]
        assert len(api_imports) == 1, path.name
        names = {a.name for a in api_imports[0].names}
        assert "Rule" in names, path.name


def test_the_check_finds_a_core_import(tmp_path: Path) -> None:
    module = tmp_path / "ca999_bad.py"
    module.write_text("from auditor.api import Rule\nfrom auditor.findings import Issue\n", encoding="utf-8")
    assert _core_imports(module) == ["ca999_bad.py:2 from auditor.findings"]


def test_api_exports_the_contract() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None
    assert api.Rule.__module__ == "auditor.catalog"
    assert api.Issue.__module__ == "auditor.findings"
    assert {"Rule", "SubCheck", "Example", "Issue", "Related", "Severity", "Context", "Witness", "FlowStep",
            "AutoFix", "Edit"} <= set(api.__all__)
