"""Fuzzing with hypothesis (issue 6): any input is findings, never a crash, never a hang.

Each input is audited beside a sentinel file through :func:`fuzz.gen.check_input`: no exception
(rule crashes are re-raised: ``debug=True``), no internal-error finding, the sentinel's finding
still there, sane positions, all five report formats render, and at most 2 s per input.

CI runs a bounded number of examples, derandomized so a run is reproducible. For a long run set
``CALICO_AUDIT_FUZZ_EXAMPLES`` (``fuzz/run.sh`` does, and also runs the atheris harness).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import gen

LONG = int(os.environ.get("CALICO_AUDIT_FUZZ_EXAMPLES", "0"))


def _settings(ci_examples: int) -> settings:
    return settings(
        max_examples=LONG or ci_examples,
        deadline=None,  # the time budget is asserted by check_input, per input
        derandomize=not LONG,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "case"
    gen.check_input(root, {"warm.yaml": gen.SENTINEL.replace("sentinel", "warm").encode()}, budget=30)
    return root


@pytest.fixture(scope="module")
def schemas() -> gen.SchemaGen:
    return gen.SchemaGen()


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    files = gen.corpus_files()
    if not files:
        pytest.skip(f"no corpus at {gen.CORPUS}")
    return [p.read_bytes() for p in files]


NAMES = st.sampled_from(["input.yaml", "input.yml", "input.json"])


@_settings(150)
@given(data=st.binary(max_size=4096), name=NAMES)
def test_arbitrary_bytes(folder: Path, data: bytes, name: str) -> None:
    gen.check_input(folder, {name: data})


@_settings(150)
@given(text=st.text(max_size=2000), name=NAMES)
def test_arbitrary_text(folder: Path, text: str, name: str) -> None:
    gen.check_input(folder, {name: text.encode("utf-8")})


@_settings(200)
@given(rng=st.randoms(use_true_random=False))
def test_yaml_shaped_noise(folder: Path, rng: random.Random) -> None:
    gen.check_input(folder, {"noise.yaml": gen.yaml_noise(rng).encode("utf-8")})


@_settings(200)
@given(rng=st.randoms(use_true_random=False))
def test_schema_manifests_with_mutations(folder: Path, schemas: gen.SchemaGen, rng: random.Random) -> None:
    """Manifests generated from schemas/ (every kind), then broken: wrong types, nulls, huge numbers."""
    files = {f"m{i}.yaml": gen.schema_case(schemas, rng) for i in range(rng.choice((1, 1, 2, 3)))}
    gen.check_input(folder, files)


@_settings(200)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_real_corpus(folder: Path, seeds: list[bytes], rng: random.Random) -> None:
    """Real manifests from ../shared/corpus/real/, flipped, truncated, re-indented, re-encoded."""
    data = gen.mutate_bytes(rng.choice(seeds), rng, seeds)
    gen.check_input(folder, {rng.choice(["input.yaml", "input.json"]): data})


def test_the_generators_reach_every_kind(schemas: gen.SchemaGen) -> None:
    """The schema generator covers every kind the schemas describe, and makes valid manifests too."""
    from auditor.schema import validate

    rng = random.Random(6)
    kinds = {k for _, _, k in schemas.kinds}
    seen, valid = set(), 0
    for _ in range(600):
        manifest = schemas.manifest(rng)
        seen.add(manifest["kind"])
        valid += not validate(manifest["apiVersion"], manifest["kind"], manifest)
    assert seen == kinds
    assert valid > 60  # unmutated output is often valid: the rules past CA002 get exercised
