"""Coverage-guided fuzzing of the whole audit with atheris (on demand, not in CI).

    pip install atheris
    python fuzz/atheris_audit.py -max_total_time=600 -timeout=10 [CORPUS_DIR ...]

The first byte of each input picks what the rest becomes: the file's bytes as they are (so
libFuzzer's mutations drive the loader directly), or a seed for one of the generators of
:mod:`fuzz.gen` (schema manifests with mutations, mutated real files, YAML-shaped noise). Every
input goes through :func:`fuzz.gen.check_input`: an exception, an internal-error finding, a lost
sentinel finding or more than 2 s is a crash, saved by libFuzzer as ``crash-*``; an input that
hangs past ``-timeout`` is saved as ``timeout-*``. Reproduce with
``python fuzz/atheris_audit.py crash-FILE`` (it runs that one input).
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris

with atheris.instrument_imports():
    import ruamel.yaml  # noqa: F401

    import auditor.cli
    import auditor.load
    import auditor.model
    import auditor.run  # noqa: F401
    from auditor import catalog
    from fuzz import gen

    catalog.all_rules()  # the rule modules, instrumented too
SCHEMAS = gen.SchemaGen()
SEEDS = [p.read_bytes() for p in gen.corpus_files()]
FOLDER = Path(tempfile.mkdtemp(prefix="calico-audit-atheris-")) / "case"


def files_for(data: bytes) -> dict[str, bytes]:
    if not data:
        return {"input.yaml": b""}
    mode, rest = data[0] % 8, data[1:]
    if mode <= 3:  # the bytes themselves, under each kind of name
        return {("input.yaml", "input.json", "input.yml", "input.yaml")[mode]: rest}
    rng = random.Random(rest)
    if mode == 4:
        return {"m.yaml": gen.schema_case(SCHEMAS, rng)}
    if mode == 5 and SEEDS:
        return {"input.yaml": gen.mutate_bytes(rng.choice(SEEDS), rng, SEEDS)}
    if mode == 6:
        return {"noise.yaml": gen.yaml_noise(rng).encode("utf-8")}
    return {"a.yaml": rest[: len(rest) // 2], "b.json": rest[len(rest) // 2 :]}


def test_one_input(data: bytes) -> None:
    gen.check_input(FOLDER, files_for(data))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
