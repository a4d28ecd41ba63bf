"""An audit collects garbage less often while it runs, and gives the process its settings back."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from auditor import run


def test_audit_raises_the_gc_thresholds_while_it_runs_and_restores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", encoding="utf-8")
    seen: list[tuple[int, ...]] = []
    build = run.build_model

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold())
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "build_model", spy)
    before = (900, 11, 12)
    saved = gc.get_threshold()
    gc.set_threshold(*before)
    try:
        result = run.audit([str(tmp_path)])
        assert gc.get_threshold() == before
        with pytest.raises(FileNotFoundError):
            run.audit([str(tmp_path / "missing")])
        assert gc.get_threshold() == before  # restored after an error too
    finally:
        gc.set_threshold(*saved)
    assert seen == [run.GC_THRESHOLDS]
    assert result.stats.resources == 1


def test_what_is_loaded_is_frozen_during_the_rules_and_handed_back_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", encoding="utf-8")
    frozen: list[int] = []
    build = run.build_model

    def spy(*args: object, **kwargs: object) -> object:
        frozen.append(gc.get_freeze_count())  # the load result is out of the collector's sight already
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "build_model", spy)
    gc.unfreeze()
    result = run.audit([str(tmp_path)])
    assert frozen and frozen[0] > 0
    assert gc.get_freeze_count() == 0  # everything is collectable again once the audit returns
    assert result.stats.resources == 1
