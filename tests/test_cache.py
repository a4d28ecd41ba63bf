"""The on-disk cache of parsed files (auditor/cache.py): same output, robust, bounded."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
import time
from array import array
from pathlib import Path

import pytest

from auditor import cache as cache_mod
from auditor.cache import MAGIC, ParseCache, decode_entry, decode_pack, decode_text, encode_entry, encode_pack
from auditor.cli import main
from auditor.config import Config, cache_folder, load_config
from auditor.load import Document, Limits, LoadProblem, SourceFile, load, parse_text, parse_text_cached
from auditor.model import KNOWN_KINDS

from .conftest import ROOT, SHARED

CORPUS = SHARED / "corpus" / "real"
EXAMPLES = ROOT / "examples"

MANIFESTS = {
    "a.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec:\n  clusterIP: 10.96.0.15\n  ports: [{port: 80, targetPort: 8080}]\n  selector: {app: web}\n",
    "b.yaml": "---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
    "spec:\n  selector: has(k8s-role)\n  ingress:\n  - action: Allow\n    destination: {nets: [10.96.0.15/32]}\n"
    "---\nkey: [unclosed\n---\nbase: &b {x: 1}\nuse: *b\n",
    "c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup, name: again}\n",
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def _report(tmp_path: Path, name: str, *args: str) -> bytes:
    out = tmp_path / f"{name}.json"
    code = main([*args, "--isolated", "--format", "json", "-o", str(out), "--exit-zero"])
    assert code in (0, 2), code
    return out.read_bytes()


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.glob("parse-*/*") if not p.name.startswith(".tmp-")]


def _load_with(root: Path, cache: ParseCache | None) -> list[tuple[object, ...]]:
    """What the loader produced, as comparable values (data, positions, problems)."""
    result = load([str(root)], KNOWN_KINDS, cache=cache)
    if cache is not None:
        cache.flush()
    docs = [(d.file.path, d.index, d.data, d.pos.tolist()) for d in result.documents]
    problems = [(p.file.path, p.span, p.message, p.code, p.hint) for p in result.problems]
    return [tuple(docs), tuple(problems), (len(result.resources), result.skipped_documents, result.empty_documents)]


# --- identical output ------------------------------------------------------------------------


@pytest.mark.parametrize("tree", [EXAMPLES, CORPUS], ids=["examples", "corpus-real"])
def test_output_is_byte_identical_without_with_a_cold_and_with_a_warm_cache(tmp_path: Path, tree: Path) -> None:
    if not tree.is_dir():
        pytest.skip(f"{tree} is not here")
    folder = tmp_path / "cache"
    plain = _report(tmp_path, "plain", str(tree), "--no-cache")
    cold = _report(tmp_path, "cold", str(tree), "--cache-dir", str(folder))
    written = _entries(folder)
    assert written, "the cold run wrote no entries"
    warm = _report(tmp_path, "warm", str(tree), "--cache-dir", str(folder))
    assert cold == plain
    assert warm == plain
    assert sorted(_entries(folder)) == sorted(written)  # the warm run found everything


def test_warm_run_reads_every_file_from_the_cache(tmp_path: Path) -> None:
    _write(tmp_path / "repo", MANIFESTS)
    first = ParseCache(str(tmp_path / "cache"))
    expected = _load_with(tmp_path / "repo", None)
    assert _load_with(tmp_path / "repo", first) == expected
    assert (first.hits, first.misses, first.writes) == (0, 3, 1)  # one pack for the folder
    second = ParseCache(str(tmp_path / "cache"))
    assert _load_with(tmp_path / "repo", second) == expected
    assert (second.hits, second.misses, second.writes) == (3, 0, 0)
    # A changed file is a new key: only it is parsed again.
    (tmp_path / "repo" / "a.yaml").write_text(MANIFESTS["a.yaml"].replace("web", "shop"), encoding="utf-8")
    third = ParseCache(str(tmp_path / "cache"))
    changed = _load_with(tmp_path / "repo", third)
    assert (third.hits, third.misses, third.writes) == (2, 1, 1)
    assert changed == _load_with(tmp_path / "repo", None)
    assert changed != expected
    # A run over one file of the folder keeps the others' entries; a deleted file's entry goes.
    partial = ParseCache(str(tmp_path / "cache"))
    load([str(tmp_path / "repo" / "b.yaml")], KNOWN_KINDS, cache=partial)
    partial.flush()
    assert (partial.hits, partial.writes) == (1, 0)
    (tmp_path / "repo" / "c.yaml").unlink()
    (tmp_path / "repo" / "b.yaml").write_text(MANIFESTS["b.yaml"] + "---\nx: 1\n", encoding="utf-8")
    fourth = ParseCache(str(tmp_path / "cache"))
    _load_with(tmp_path / "repo", fourth)
    (pack,) = _entries(tmp_path / "cache")
    assert sorted(decode_pack(pack.read_bytes()) or {}) == ["a.yaml", "b.yaml"]


def test_parser_kind_and_limits_are_part_of_the_key(tmp_path: Path) -> None:
    _write(tmp_path / "repo", {"deep.yaml": "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 8)) + "x: 1\n"})
    folder = str(tmp_path / "cache")
    loose = load([str(tmp_path / "repo")], KNOWN_KINDS, cache=ParseCache(folder))
    strict_cache = ParseCache(folder)
    strict = load([str(tmp_path / "repo")], KNOWN_KINDS, limits=Limits(max_depth=3), cache=strict_cache)
    assert strict_cache.hits == 0  # other limits: not the same entry
    assert not loose.problems
    assert [p.code for p in strict.problems] == ["limit"]
    pure_cache = ParseCache(folder)
    load([str(tmp_path / "repo")], KNOWN_KINDS, pure=True, cache=pure_cache)
    assert pure_cache.hits == 0


# --- corrupted, truncated, foreign and hostile entries -----------------------------------------


def _damage(path: Path, how: str) -> None:
    blob = path.read_bytes()
    if how == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped":
        middle = len(blob) - 5
        path.write_bytes(blob[:middle] + bytes([blob[middle] ^ 0xFF]) + blob[middle + 1 :])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(blob)))
    elif how == "directory":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("how", ["truncated", "empty", "flipped", "garbage", "directory"])
def test_a_damaged_entry_is_a_miss_and_is_rewritten(tmp_path: Path, how: str) -> None:
    _write(tmp_path / "repo", MANIFESTS)
    folder = tmp_path / "cache"
    expected = _load_with(tmp_path / "repo", None)
    _load_with(tmp_path / "repo", ParseCache(str(folder)))
    victims = _entries(folder)
    for path in victims:
        _damage(path, how)
    again = ParseCache(str(folder))
    assert _load_with(tmp_path / "repo", again) == expected
    assert again.hits == 0 and again.misses == 3
    if how != "directory":  # (a directory in the way cannot be replaced by a rename: just a miss each time)
        assert again.writes == 1
        assert all(decode_pack(p.read_bytes()) for p in victims)
        healed = ParseCache(str(folder))
        assert _load_with(tmp_path / "repo", healed) == expected
        assert healed.hits == 3


def _forge(payload: object) -> bytes:
    import hashlib

    body = marshal.dumps(payload, 4)
    return MAGIC + hashlib.blake2b(body, digest_size=cache_mod.DIGEST_SIZE).digest() + body


@pytest.mark.parametrize(
    "payload",
    [
        (cache_mod.FORMAT, [(0, compile("1/0", "x", "eval"), b"")], []),  # a code object: never run, refused
        (cache_mod.FORMAT, [(0, {"a": {1, 2}}, b"")], []),  # a set is not YAML data
        (cache_mod.FORMAT, [(0, {("k",): 1}, b"")], []),  # a non-string key
        (cache_mod.FORMAT, [(0, {"a": 1}, b"12345")], []),  # a position table of the wrong size
        (cache_mod.FORMAT, [], [(1, 1, 1, 2, "m", "c")]),  # a problem of the wrong shape
        (cache_mod.FORMAT + 1, [], []),  # another format
        ["not", "a", "tuple"],
        12,
    ],
    ids=["code", "set", "key", "positions", "problem", "format", "list", "int"],
)
def test_a_forged_entry_is_refused(payload: object) -> None:
    assert decode_entry(marshal.dumps(payload, 4)) is None


@pytest.mark.parametrize(
    "payload",
    [
        (cache_mod.FORMAT, {"a.yaml": ("k", "not bytes")}),
        (cache_mod.FORMAT, {"a.yaml": ("k",)}),
        (cache_mod.FORMAT, {1: ("k", b"")}),
        (cache_mod.FORMAT, [("a.yaml", ("k", b""))]),
        (cache_mod.FORMAT + 1, {}),
        (cache_mod.FORMAT,),
    ],
    ids=["value", "short", "name", "list", "format", "shape"],
)
def test_a_forged_pack_with_a_valid_digest_is_refused(payload: object) -> None:
    assert decode_pack(_forge(payload)) is None


def test_a_pack_whose_entry_is_hostile_is_a_miss_for_that_file(tmp_path: Path) -> None:
    _write(tmp_path / "repo", MANIFESTS)
    folder = tmp_path / "cache"
    expected = _load_with(tmp_path / "repo", None)
    _load_with(tmp_path / "repo", ParseCache(str(folder)))
    (path,) = _entries(folder)
    pack = decode_pack(path.read_bytes())
    assert pack is not None
    key, _ = pack["a.yaml"]
    pack["a.yaml"] = (key, marshal.dumps((cache_mod.FORMAT, [(0, compile("1/0", "x", "eval"), b"")], []), 4))
    path.write_bytes(encode_pack(pack))
    again = ParseCache(str(folder))
    assert _load_with(tmp_path / "repo", again) == expected
    assert (again.hits, again.misses, again.writes) == (2, 1, 1)


def test_entries_round_trip_plain_data_with_shared_and_special_values() -> None:
    shared = {"x": [1, 2.5, None, True]}
    data = {"a": shared, "b": shared, "nan": float("inf"), "s": "é\u2028", "n": -(2**70)}
    pos = array("q", [-1, 5, 9, 3, 4, 5])
    decoded = decode_entry(encode_entry(([(2, data, pos)], [(1, 2, 1, 3, "msg", "syntax", "")])))
    assert decoded is not None
    ((index, got, got_pos),) = decoded[0]
    assert (index, got, got_pos.tolist()) == (2, data, pos.tolist())
    assert type(got["b"]["x"][3]) is bool
    assert decoded[1] == [(1, 2, 1, 3, "msg", "syntax", "")]


# --- texts that are not files (rendered output) -------------------------------------------------


def _parsed(docs: list[Document], problems: list[LoadProblem]) -> list[object]:
    return [
        [(d.file.path, d.index, d.data, d.pos.tolist()) for d in docs],
        [(p.file.path, p.span, p.message, p.code, p.hint) for p in problems],
    ]


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_a_text_parses_the_same_through_the_cache_cold_and_warm(tmp_path: Path, name: str) -> None:
    limits = Limits()
    file = SourceFile("chart (helm template)", None, MANIFESTS[name])
    expected = _parsed(*parse_text(file, limits))
    cold = ParseCache(str(tmp_path / "cache"))
    assert _parsed(*parse_text_cached(file, limits, False, cold)) == expected
    cold.flush()
    assert (cold.hits, cold.misses, cold.writes) == (0, 1, 1)
    (entry,) = [p for p in _entries(tmp_path / "cache") if p.name.startswith("text-")]
    warm = ParseCache(str(tmp_path / "cache"))
    assert _parsed(*parse_text_cached(file, limits, False, warm)) == expected
    assert (warm.hits, warm.misses) == (1, 0)
    assert f"text-{warm.key(file.text or '', 'c', False, 200, 2_000_000, 200_000)}" == entry.name
    # Another parser is another key: parsed again, and filed beside it.
    pure = ParseCache(str(tmp_path / "cache"))
    assert _parsed(*parse_text_cached(file, limits, True, pure)) == _parsed(*parse_text(file, limits, pure=True))
    assert (pure.hits, pure.misses) == (0, 1)
    # Without a cache: the parse itself.
    assert _parsed(*parse_text_cached(file, limits, False, None)) == expected


@pytest.mark.parametrize("how", ["truncated", "empty", "flipped", "garbage", "directory"])
def test_a_damaged_text_entry_is_a_miss_and_is_rewritten(tmp_path: Path, how: str) -> None:
    limits = Limits()
    file = SourceFile("k (kustomize build)", None, MANIFESTS["b.yaml"])
    expected = _parsed(*parse_text(file, limits))
    first = ParseCache(str(tmp_path / "cache"))
    parse_text_cached(file, limits, False, first)
    first.flush()
    (entry,) = _entries(tmp_path / "cache")
    _damage(entry, how)
    again = ParseCache(str(tmp_path / "cache"))
    assert _parsed(*parse_text_cached(file, limits, False, again)) == expected
    again.flush()
    assert (again.hits, again.misses) == (0, 1)
    if how != "directory":  # (a directory in the way cannot be replaced by a rename: just a miss each time)
        assert again.writes == 1
        healed = ParseCache(str(tmp_path / "cache"))
        assert _parsed(*parse_text_cached(file, limits, False, healed)) == expected
        assert healed.hits == 1


@pytest.mark.parametrize(
    "payload",
    [
        (cache_mod.FORMAT, marshal.dumps((cache_mod.FORMAT, [(0, compile("1/0", "x", "eval"), b"")], []), 4)),
        (cache_mod.FORMAT, marshal.dumps((cache_mod.FORMAT, [(0, {"a": (1, 2)}, b"")], []), 4)),
        (cache_mod.FORMAT, "not bytes"),
        (cache_mod.FORMAT + 1, encode_entry(([], []))),
        (cache_mod.FORMAT, encode_entry(([], [])), "more"),
        ["a", "list"],
    ],
    ids=["code", "tuple", "str", "format", "shape", "list"],
)
def test_a_forged_text_entry_with_a_valid_digest_is_refused(tmp_path: Path, payload: object) -> None:
    assert decode_text(_forge(payload)) is None
    cache = ParseCache(str(tmp_path / "cache"))
    os.makedirs(cache.folder)
    Path(cache.folder, "text-k").write_bytes(_forge(payload))
    assert cache.get_text("k") is None and cache.misses == 1
    assert decode_text(_forge((cache_mod.FORMAT, encode_entry(([], []))))) == ([], [])


# --- a cache folder that goes away, or cannot be written ----------------------------------------


def test_folder_deleted_mid_run_is_made_again_and_the_run_goes_on(tmp_path: Path) -> None:
    _write(
        tmp_path / "repo",
        {f"d{i}/f.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(6)},
    )
    folder = tmp_path / "cache"
    cache = ParseCache(str(folder))
    expected = _load_with(tmp_path / "repo", None)
    original = cache._store
    calls = 0

    def store_then_delete(key: str, blob: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            shutil.rmtree(folder)  # somebody runs `rm -rf .calico-audit-cache` now
        original(key, blob)

    cache._store = store_then_delete  # type: ignore[method-assign]
    assert _load_with(tmp_path / "repo", cache) == expected
    assert cache.enabled
    assert len(_entries(folder)) == 4  # the 4 packs written after the deletion (the folder was made again)
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert cache.prune() == 0


def test_an_unwritable_cache_folder_turns_the_cache_off_without_failing(tmp_path: Path) -> None:
    _write(tmp_path / "repo", MANIFESTS)
    (tmp_path / "blocked").write_text("a file where the folder should be")
    cache = ParseCache(str(tmp_path / "blocked" / "cache"))
    assert _load_with(tmp_path / "repo", cache) == _load_with(tmp_path / "repo", None)
    assert not cache.enabled and cache.writes == 0
    assert cache.prune() == 0


# --- concurrent runs ---------------------------------------------------------------------------


def test_two_processes_filling_the_same_cache_at_once_agree(tmp_path: Path) -> None:
    tree = CORPUS if CORPUS.is_dir() else EXAMPLES
    folder = tmp_path / "cache"
    reference = _report(tmp_path, "reference", str(tree), "--no-cache")
    outs = [tmp_path / f"run{i}.json" for i in range(2)]

    def start(out: Path) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "auditor", str(tree), "--isolated", "--format", "json", "-o", str(out)]
        return subprocess.Popen([*cmd, "--exit-zero", "--cache-dir", str(folder)], cwd=ROOT, stderr=subprocess.PIPE)

    for _round in range(2):  # cold (both write), then warm (both read) with a third writer racing
        procs = [start(out) for out in outs]
        errors = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        assert [out.read_bytes() for out in outs] == [reference, reference]
    assert all(decode_pack(p.read_bytes()) for p in _entries(folder))
    assert not list(folder.glob("parse-*/.tmp-*"))  # no temporary file left behind


# --- bounded -----------------------------------------------------------------------------------


def test_prune_removes_unused_entries_beyond_the_limit_and_old_versions(tmp_path: Path) -> None:
    _write(tmp_path / "repo", MANIFESTS)
    folder = tmp_path / "cache"
    cache = ParseCache(str(folder))
    _load_with(tmp_path / "repo", cache)
    mine = {p.name for p in _entries(folder)}
    current = Path(cache.folder)
    blob = (current / next(iter(mine))).read_bytes()
    for i in range(40):  # packs of folders that no longer exist
        stale = current / f"{i:040x}"
        stale.write_bytes(blob)
        os.utime(stale, (time.time() - 1000 - i, time.time() - 1000 - i))
    old_version = folder / "parse-0000000000000000"
    old_version.mkdir()
    (old_version / "x").write_bytes(blob)
    old = time.time() - cache_mod.STALE_VERSION_S - 10
    os.utime(old_version, (old, old))
    recent_version = folder / "parse-1111111111111111"
    recent_version.mkdir()  # another version in use right now: kept
    removed = cache.prune(keep_at_least=10)
    left = {p.name for p in current.iterdir()}
    assert mine <= left  # what this run used is kept
    assert len(left) <= 10 // 2 + len(mine)
    assert not old_version.exists() and recent_version.exists()
    assert removed == 1 + (len(mine) + 40 - len(left))  # the old version's file, and the stale packs
    assert cache.prune(keep_at_least=10) == 0  # nothing more to do


# --- where the cache lives -------------------------------------------------------------------------


def test_cache_folder_defaults_flags_config_key_and_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cache_folder(Config(), environ={}) == ".calico-audit-cache"
    assert cache_folder(Config(), environ={"CI": "true"}) is None  # a fresh checkout: no default
    assert cache_folder(Config(), environ={"CI": "false"}) == ".calico-audit-cache"
    assert cache_folder(Config(cache_dir="kept"), environ={"CI": "true"}) == "kept"  # named: used under CI
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / ".calico-audit.yaml").write_text("cache-dir: .cache/audit\n")
    config = load_config(start=str(tmp_path / "proj" / "sub"))
    assert config.cache_dir == str(tmp_path / "proj" / ".cache" / "audit")  # relative to the config file
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ".calico-audit.yaml").write_text("fail-on: error\n")
    beside = load_config(start=str(tmp_path / "other"))
    assert cache_folder(beside, environ={}) == str(tmp_path / "other" / ".calico-audit-cache")


def test_cli_no_cache_writes_nothing_and_cache_dir_writes_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    _write(tmp_path / "repo", MANIFESTS)
    monkeypatch.chdir(tmp_path / "repo")
    _report(tmp_path, "none", ".", "--no-cache")
    assert not (tmp_path / "repo" / ".calico-audit-cache").exists()
    _report(tmp_path, "default", ".")
    default = tmp_path / "repo" / ".calico-audit-cache"
    assert len(_entries(default)) == 1  # one pack for the folder
    assert (default / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (default / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    _report(tmp_path, "named", ".", "--cache-dir", str(tmp_path / "elsewhere"))
    assert len(_entries(tmp_path / "elsewhere")) == 1
    # The cache folder is never audited itself.
    assert b".calico-audit-cache" not in _report(tmp_path, "again", ".")
