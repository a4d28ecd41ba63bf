"""Hostile and broken input (issue 6): never crash, never hang, never lose a finding.

Every bad file is audited next to a good one (``good.yaml``, whose CA003 finding must survive), and
every case asserts where the bad file's finding lands. Behaviour of the command line (exit codes,
messages on stderr, no traceback) is checked through a real subprocess; the rest in-process through
:func:`auditor.run.audit` with ``debug=True``, so a crash inside a rule fails the test instead of
becoming an internal-error finding. The limits themselves are documented in docs/limits.md.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from auditor import cli
from auditor.config import Config
from auditor.load import Limits
from auditor.run import AuditResult, audit

GOOD = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: good-neighbour
spec:
  selector: "app == 'web"
"""
GOOD_AT = ("good.yaml", 6, 21)  # CA003: the unterminated string of the selector

POLICY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: "has(k8s-role) && bad =="
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    source:
      nets: [10.20.30.40/24]
"""
#: Where POLICY's findings land (rule, line, column), whatever the encoding or line endings.
POLICY_FINDINGS = [("CA003", 6, 37), ("CA004", 12, 14)]

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")


@contextmanager
def cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run(
    root: Path,
    files: Mapping[str, str | bytes] | None = None,
    *,
    limits: Limits | None = None,
    pure: bool = False,
    paths: list[str] | None = None,
    good: bool = True,
) -> AuditResult:
    """Audit ``files`` (and good.yaml) under ``root``; the good file's finding must be there."""
    write_files(root, {**(files or {}), **({"good.yaml": GOOD} if good else {})})
    with cwd(root):
        result = audit(paths or ["."], Config(), limits, debug=True, pure=pure)
    assert not result.internal_errors, result.internal_errors
    if good:
        assert GOOD_AT in places(result, "CA003"), "a bad file hid the findings of good.yaml"
    return result


def places(result: AuditResult, rule: str | None = None, path: str | None = None) -> list[tuple[str, int, int]]:
    return sorted(
        (f.location.path, f.location.span.line, f.location.span.column)
        for f in result.findings
        if (rule is None or f.rule_id == rule) and (path is None or f.location.path == path)
    )


def found(result: AuditResult, path: str, rule: str | None = None) -> list[tuple[str, int, int]]:
    """(rule, line, column) of the findings in ``path``."""
    return sorted(
        (f.rule_id, f.location.span.line, f.location.span.column)
        for f in result.findings
        if f.location.path == path and (rule is None or f.rule_id == rule)
    )


def messages(result: AuditResult, path: str, rule: str = "CA001") -> list[str]:
    return [f.message for f in result.findings if f.location.path == path and f.rule_id == rule]


@contextmanager
def within(seconds: float) -> Iterator[None]:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"took {elapsed:.2f} s, budget {seconds} s"


def cli_run(
    args: list[str], root: Path, stdin: str | bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real command line: ``python -m auditor ARGS`` in ``root``."""
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        cwd=root,
        capture_output=True,
        input=stdin.encode("utf-8") if isinstance(stdin, str) else stdin,
        env=ENV,
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------------------------
# Resource limits: bombs, nesting, size, width
# --------------------------------------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("pure", [False, True], ids=["c-parser", "pure-python"])
def test_billion_laughs_is_refused_fast(tmp_path: Path, pure: bool) -> None:
    with within(5):
        result = run(tmp_path, {"bomb.yaml": billion_laughs()}, pure=pure)
    # The alias on line 5 is where the expansion passes 200,000 nodes.
    assert found(result, "bomb.yaml") == [("CA001", 5, 5)]
    assert "aliases expand to more than 200,000 nodes" in messages(result, "bomb.yaml")[0]


def test_merge_key_bomb_costs_no_more_than_its_size(tmp_path: Path) -> None:
    # Each mapping merges the previous one nine times: naive flattening is 9**20 steps.
    lines = ["a0: &a0 {k: 1}"] + [f"a{i}: &a{i} {{<<: [" + ",".join([f"*a{i - 1}"] * 9) + "]}" for i in range(1, 21)]
    with within(5):
        result = run(tmp_path, {"merge.yaml": "\n".join(lines) + "\n"})
    assert found(result, "merge.yaml") == []  # legal YAML: every a<i> is {k: 1}
    (doc,) = [d for d in result.load.documents if d.file.path == "merge.yaml"]
    assert doc.data["a20"] == {"k": 1}


def test_wide_merge_bomb_is_refused(tmp_path: Path) -> None:
    # Merging big mappings many times: the merged entries count against the alias budget.
    keys = ", ".join(f"k{i}: {i}" for i in range(2000))
    lines = [f"base: &b {{{keys}}}"] + [f"m{i}: {{<<: *b, own: {i}}}" for i in range(200)]
    with within(5):
        result = run(tmp_path, {"merge.yaml": "\n".join(lines) + "\n"})
    assert found(result, "merge.yaml", "CA001")
    assert "(a YAML bomb?)" in messages(result, "merge.yaml")[0]


def test_recursive_alias_is_reported(tmp_path: Path) -> None:
    with within(5):
        result = run(tmp_path, {"rec.yaml": "a: &a [x, *a]\n", "rec2.yaml": "b: &b {c: *b}\n"})
    assert found(result, "rec.yaml") == [("CA001", 1, 4)]
    assert found(result, "rec2.yaml") == [("CA001", 1, 4)]


@pytest.mark.parametrize("pure", [False, True], ids=["c-parser", "pure-python"])
@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("[" * 10_000 + "]" * 10_000, 201),
        ("{a: " * 10_000 + "}" * 10_000, 801),
        ("- " * 10_000 + "x", 401),
    ],
    ids=["flow-10k", "mapping-10k", "block-10k"],
)
def test_deep_nesting_is_refused_at_the_limit(tmp_path: Path, text: str, column: int, pure: bool) -> None:
    with within(5):
        result = run(tmp_path, {"deep.yaml": text + "\n"}, pure=pure)
    assert found(result, "deep.yaml") == [("CA001", 1, column)]
    assert messages(result, "deep.yaml") == ["document 1 skipped: nesting deeper than 200 levels"]


@pytest.mark.parametrize("pure", [False, True], ids=["c-parser", "pure-python"])
def test_nesting_that_overflowed_the_c_stack(tmp_path: Path, pure: bool) -> None:
    """200,000 levels crashed libyaml's recursive composer with SIGSEGV: run in a subprocess, so a
    regression fails this test instead of killing the test run."""
    write_files(
        tmp_path,
        {
            "flow.yaml": "[" * 200_000 + "]" * 200_000 + "\n",
            "block.yaml": "- " * 200_000 + "x\n",
            "map.yaml": "{a: " * 200_000 + "}" * 200_000 + "\n",
            "good.yaml": GOOD,
        },
    )
    started = time.perf_counter()
    proc = cli_run(["--format", "json", *(["--pure-python"] if pure else []), "."], tmp_path)
    assert time.perf_counter() - started < 15
    assert proc.returncode == 1, proc.stderr
    got = {(f["path"], f["rule"], f["line"], f["column"]) for f in json.loads(proc.stdout)["findings"]}
    assert got == {
        ("flow.yaml", "CA001", 1, 201),
        ("block.yaml", "CA001", 1, 401),
        ("map.yaml", "CA001", 1, 801),
        ("good.yaml", "CA003", 6, 21),
    }


def test_deep_block_indentation_is_refused(tmp_path: Path) -> None:
    text = "".join(" " * i + "a:\n" for i in range(3000)) + " " * 3000 + "b\n"
    with within(5):
        result = run(tmp_path, {"deep.yaml": text})
    assert found(result, "deep.yaml") == [("CA001", 201, 201)]


def test_a_deep_document_does_not_hide_the_others_in_its_stream(tmp_path: Path) -> None:
    stream = "---\n".join([POLICY, "x: " + "[" * 50_000 + "]" * 50_000 + "\n", POLICY])
    result = run(tmp_path, {"stream.yaml": stream})
    # Lines 1-12: POLICY; 13: ---; 14: the deep document; 15: ---; 16-27: POLICY again.
    assert found(result, "stream.yaml", "CA001") == [("CA001", 14, 3 + 200)]  # the root mapping is level 1
    assert found(result, "stream.yaml", "CA004") == [("CA004", 12, 14), ("CA004", 27, 14)]


def test_nesting_just_below_the_limit_reaches_every_rule(tmp_path: Path) -> None:
    """Depth 190 inside every field the model reads: no RecursionError in the schema check or a rule."""
    deep: Any = "x"
    for i in range(180):
        deep = [deep] if i % 2 else {"k": deep}
    manifest = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "deep", "labels": deep},
        "spec": {
            "selector": deep,
            "ingress": [{"action": "Allow", "source": {"nets": deep, "ports": deep, "selector": deep}}],
            "egress": [deep],
            "types": deep,
        },
    }
    with within(10):
        result = run(tmp_path, {"deep.json": json.dumps(manifest)})
    assert not found(result, "deep.json", "CA001")
    assert found(result, "deep.json", "CA002")


def test_file_above_the_size_limit_is_refused_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as fh:  # a 200 MB sparse file: nothing is written
        fh.truncate(200 * 1024 * 1024)
    opened: list[str] = []
    real_open = open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    with within(5):
        result = run(tmp_path)
    monkeypatch.undo()
    assert found(result, "huge.yaml") == [("CA001", 1, 1)]
    assert "file is 200 MiB, above the 20 MiB limit; not read" in messages(result, "huge.yaml")[0]
    assert not [p for p in opened if p.endswith("huge.yaml")], "the huge file was opened"


def test_size_limit_is_configurable(tmp_path: Path) -> None:
    write_files(tmp_path, {"p.yaml": POLICY + "# " + "x" * 2048 + "\n", "good.yaml": GOOD})
    refused = cli_run(["--max-file-size", "1K", "--format", "json", "."], tmp_path)
    no_traceback(refused)
    data = json.loads(refused.stdout)["findings"]
    assert {(f["path"], f["rule"], f["line"]) for f in data} >= {("p.yaml", "CA001", 1), ("good.yaml", "CA003", 6)}
    allowed = cli_run(["--max-file-size", "1M", "--format", "json", "."], tmp_path)
    assert {(f["path"], f["rule"]) for f in json.loads(allowed.stdout)["findings"]} >= {("p.yaml", "CA004")}
    # Standard input is read only up to the limit.
    piped = cli_run(["--max-file-size", "1K", "--format", "json", "-"], tmp_path, stdin=POLICY + "#" * 4096 + "\n")
    no_traceback(piped)
    (only,) = json.loads(piped.stdout)["findings"]
    assert only["rule"] == "CA001" and "input is larger than the 1 KiB limit" in only["message"]


def test_thousands_of_keys_and_rules(tmp_path: Path) -> None:
    labels = "".join(f"    k{i}: v{i}\n" for i in range(20_000))
    hep = (
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: wide\n  labels:\n"
        + labels
        + "spec:\n  node: n1\n  interfaceName: eth0\n  expectedIPs: [10.0.0.300]\n"
    )
    rules = "".join(
        f"  - action: Allow\n    protocol: TCP\n    source:\n      nets: [10.{i // 250}.{i % 250}.0/24]\n"
        f"    destination:\n      ports: [{1000 + i}]\n"
        for i in range(3000)
    )
    policy = POLICY.replace("  ingress:\n", "  ingress:\n" + rules)
    with within(10):
        result = run(tmp_path, {"wide.yaml": hep, "rules.yaml": policy})
    assert found(result, "wide.yaml", "CA004") == [("CA004", 20_009, 17)]
    assert ("CA004", 9 + 6 * 3000 + 3, 14) in found(result, "rules.yaml", "CA004")


def test_five_megabyte_single_line_scalar(tmp_path: Path) -> None:
    text = POLICY.replace("spec:\n", "  annotations:\n    blob: " + "x" * 5_000_000 + "\nspec:\n", 1)
    with within(5):
        result = run(tmp_path, {"long.yaml": text})
    # CA007: Calico rejects more than 256 KiB of annotations (validateObjectMetaAnnotations).
    assert found(result, "long.yaml") == [("CA003", 8, 37), ("CA004", 14, 14), ("CA007", 5, 3)]


def test_node_limit(tmp_path: Path) -> None:
    items = ", ".join(["1"] * 5000)
    result = run(tmp_path, {"many.yaml": f"a: [{items}]\n"}, limits=Limits(max_nodes=1000))
    assert found(result, "many.yaml") == [("CA001", 1, 2999)]  # the 1,001st node
    assert "more than 1,000 nodes" in messages(result, "many.yaml")[0]


def test_huge_and_odd_numbers(tmp_path: Path) -> None:
    text = POLICY.replace(
        "  preDNAT: true\n",
        "  preDNAT: true\n  order: " + "9" * 400 + "\n",
    )
    odd = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: odd-numbers
spec:
  order: 1e400
  selector: all()
  ingress:
  - action: Allow
    protocol: 999999999999999999999999999999
    source:
      ports: [99999999999999999999, -0, .nan, .inf, 0x50, 0o17, "\u00b2", "\u0663\u0664", "\u00b9:\u00b2"]
      notPorts: [%s]
""" % ("9" * 5000)
    result = run(tmp_path, {"big.yaml": text, "odd.yaml": odd})
    assert found(result, "big.yaml") == [("CA003", 6, 37), ("CA004", 13, 14)]  # one line more than POLICY
    assert found(result, "odd.yaml", "CA005")  # reported, not crashed on


# --------------------------------------------------------------------------------------------
# Encodings, line endings, whitespace
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_unicode_with_bom_is_audited_like_utf8(tmp_path: Path, encoding: str) -> None:
    data = POLICY.encode(encoding)
    if encoding.endswith("-be"):
        data = ("\ufeff" + POLICY).encode(encoding)
    result = run(tmp_path, {"p.yaml": data})
    assert found(result, "p.yaml") == POLICY_FINDINGS


def test_utf16_without_bom_is_a_binary_file(tmp_path: Path) -> None:
    result = run(tmp_path, {"p.yaml": POLICY.encode("utf-16-le")})
    assert found(result, "p.yaml") == [("CA001", 1, 1)]


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    data = POLICY.replace("allow-cluster-ips", "caf\u00e9-ips").encode("latin-1")
    result = run(tmp_path, {"p.yaml": data})
    assert found(result, "p.yaml") == [("CA001", 4, 12)]
    assert "byte 0xe9 at line 4, column 12" in messages(result, "p.yaml")[0]
    surrogate = run(tmp_path, {"p.yaml": b"a: \xed\xa0\x80\n"})
    assert found(surrogate, "p.yaml") == [("CA001", 1, 4)]


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"kind: x\x00\n", b"\x00" * 100])
def test_nul_bytes_mean_binary(tmp_path: Path, data: bytes) -> None:
    result = run(tmp_path, {"image.yaml": data})
    assert found(result, "image.yaml") == [("CA001", 1, 1)]
    assert "binary file" in messages(result, "image.yaml")[0]


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_line_endings_keep_positions(tmp_path: Path, newline: str) -> None:
    result = run(tmp_path, {"p.yaml": POLICY.replace("\n", newline)})
    assert found(result, "p.yaml") == POLICY_FINDINGS
    mixed = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(POLICY.splitlines()))
    assert found(run(tmp_path, {"p.yaml": mixed}), "p.yaml") == POLICY_FINDINGS


def test_tabs(tmp_path: Path) -> None:
    tabbed = POLICY.replace("    source:", "\tsource:")
    result = run(tmp_path, {"tab.yaml": tabbed, "tab.json": '{\t"kind":\t"x",\n\t"apiVersion": "v1"}\n'})
    assert found(result, "tab.yaml") == [("CA001", 11, 1)]
    assert found(result, "tab.json") == []  # tabs between JSON tokens are fine
    in_values = POLICY.replace("allow-cluster-ips", "'allow\tcluster'")
    assert ("CA001", 4, 9) not in found(run(tmp_path, {"tab.yaml": in_values}), "tab.yaml")


@pytest.mark.parametrize(
    "text",
    ["", "\n\n\n", "   \n  \n", "# only a comment\n# and another\n", "---\n", "---\n---\n...\n", "\ufeff", "--- # c\n"],
    ids=["empty", "newlines", "blank", "comments", "marker", "markers", "bom", "marker-comment"],
)
def test_files_without_content_are_fine(tmp_path: Path, text: str) -> None:
    result = run(tmp_path, {"empty.yaml": text.encode("utf-8")})
    assert found(result, "empty.yaml") == []


def test_control_characters(tmp_path: Path) -> None:
    result = run(tmp_path, {"ctl.yaml": POLICY.replace("allow-cluster-ips", "allow\x07ips")})
    assert found(result, "ctl.yaml") == [("CA001", 4, 14)]
    escaped = POLICY.replace("allow-cluster-ips", '"allow\\u0007ips"')
    assert not found(run(tmp_path, {"ctl.yaml": escaped}), "ctl.yaml", "CA001")


# --------------------------------------------------------------------------------------------
# Tags: nothing is ever constructed
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_python_tags_construct_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "calico_audit_canary.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\ndef boom(*a, **k):\n    open({str(marker)!r}, 'w')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    text = f"""\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: tags
  labels: !!python/object/apply:calico_audit_canary.boom [x]
spec:
  selector: !!python/object/new:calico_audit_canary.boom {{}}
  order: !!python/name:calico_audit_canary.boom
  tier: !!python/module:calico_audit_canary
  types: !!python/object/apply:os.system ["touch {marker}"]
  ingress: !!python/object:calico_audit_canary.boom {{a: 1}}
"""
    result = run(tmp_path, {"tags.yaml": text})
    assert not marker.exists() and "calico_audit_canary" not in sys.modules
    (doc,) = [d for d in result.load.documents if d.file.path == "tags.yaml"]
    assert _plain(doc.data)
    assert found(result, "tags.yaml", "CA001") == [
        ("CA001", 5, 11),
        ("CA001", 7, 13),
        ("CA001", 8, 10),
        ("CA001", 9, 9),
        ("CA001", 10, 10),
        ("CA001", 11, 12),
    ]
    assert all(f.severity.label == "warning" for f in result.findings if f.rule_id == "CA001")


def test_unquoted_bang_selector_is_reported(tmp_path: Path) -> None:
    """`selector: !has(foo)` is a YAML tag on an empty value: Kubernetes applies an empty selector."""
    text = POLICY.replace('"has(k8s-role) && bad =="', "!has(foo)").replace("selector:", "selector:", 1)
    result = run(tmp_path, {"bang.yaml": text})
    assert ("CA001", 6, 13) in found(result, "bang.yaml")
    (message,) = [m for m in messages(result, "bang.yaml") if "!has(foo)" in m]
    assert "must be quoted" in message


def test_custom_and_uncommon_tags_are_plain_data(tmp_path: Path) -> None:
    text = """\
a: !custom {b: 1}
c: !!binary aGVsbG8=
d: !!set {x, y}
e: !!omap [x: 1, y: 2]
f: !!timestamp 2001-12-14
g: !!str 80
h: !<tag:example.com,2000:thing> [1]
"""
    result = run(tmp_path, {"t.yaml": text})
    (doc,) = [d for d in result.load.documents if d.file.path == "t.yaml"]
    assert _plain(doc.data) and doc.data["g"] == "80" and doc.data["c"] == "aGVsbG8="
    assert found(result, "t.yaml") == [("CA001", 1, 4), ("CA001", 7, 4)]


# --------------------------------------------------------------------------------------------
# Wrong types everywhere the model reads
# --------------------------------------------------------------------------------------------

_GNP = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: p\n"
_NP = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: n\n"
_K8S_NP = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: n\n"
_SVC = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: n\n"
_DEPLOY = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: n\n"
_HEP = "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: h\n"

WRONG_TYPES = {
    "string-spec": _GNP + 'spec: "x"\n',
    "list-spec": _GNP + "spec: [1, 2]\n",
    "metadata-list": "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: []\nspec: {}\n",
    "metadata-null": "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\nspec: {}\n",
    "number-names": "apiVersion: v1\nkind: Service\nmetadata:\n  name: 123\n  namespace: 4.5\nspec: {}\n",
    "bool-name": "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: true\nspec:\n  order: x\n",
    "bool-labels": _HEP.replace("  name: h\n", "  name: h\n  labels:\n    k8s-master: true\n    n: 1\n    z:\n")
    + "spec:\n  node: n\n  expectedIPs: 10.0.0.1\n",
    "list-labels": _GNP.replace("  name: p\n", "  name: p\n  labels: [a, b]\n  annotations: x\n") + "spec: {}\n",
    "label-values": _GNP.replace("  name: p\n", "  name: p\n  labels: {a: [1], b: {c: d}, 5: 6}\n") + "spec: {}\n",
    "items-odd": "apiVersion: v1\nkind: List\nitems: [5, null, x, [], {kind: 5}, {apiVersion: v1, kind: Service,"
    + " metadata: {name: s}, spec: 7}]\n",
    "selectors-not-strings": _GNP
    + "spec:\n  selector: {matchLabels: {a: b}}\n  namespaceSelector: 5\n  serviceAccountSelector: [x]\n",
    "selector-bool": _NP
    + "spec:\n  selector: true\n  ingress: [{action: Allow, source: {selector: 7, notSelector: []}}]\n",
    "string-for-lists": _GNP + "spec:\n  selector: all()\n  types: Ingress\n  ingress: x\n  egress: {action: Allow}\n",
    "wrong-rules": _GNP
    + "spec:\n  selector: all()\n  ingress:\n  - 5\n  - null\n  - x\n  - []\n"
    + "  - {action: 5, protocol: {}, notProtocol: [], ipVersion: '4', icmp: 5, http: x,"
    + " source: x, destination: [], metadata: 5}\n"
    + "  - action: Allow\n    source: {nets: 10.0.0.0/8, notNets: [5, null, {}], ports: 80,"
    + " notPorts: [{}, [], true, '80', 'http', 1.5], services: 5, serviceAccounts: x}\n"
    + "    destination: {services: {name: 5}, serviceAccounts: {names: x, selector: 5}, ports: ['1:2:3', '']}\n",
    "order-types": _GNP + "spec:\n  order: '100'\n  tier: 5\n  preDNAT: 'true'\n  applyOnForward: 1\n  doNotTrack: x\n",
    "k8s-netpol": _K8S_NP
    + "spec:\n  podSelector: x\n  policyTypes: Ingress\n  ingress:\n  - from: x\n    ports: x\n  - from:\n"
    + "    - ipBlock: 10.0.0.0/8\n    - ipBlock: {cidr: 5, except: x}\n    - podSelector: {matchLabels: x}\n"
    + "    - namespaceSelector: {matchExpressions: [{key: 5, operator: In, values: x}, 5]}\n"
    + "    ports: [{port: x, endPort: y}, {port: 80, endPort: '90'}, {protocol: 5}, 5]\n  egress: [5]\n",
    "service": _SVC
    + "spec:\n  type: 5\n  clusterIP: 5\n  clusterIPs: x\n  externalIPs: [5, null, x]\n  selector: x\n"
    + "  externalTrafficPolicy: 5\n  loadBalancerIP: [1]\n  ports: [5, {port: '80', targetPort: [1],"
    + " nodePort: x, protocol: 6}, {port: true}]\nstatus: {loadBalancer: {ingress: [5, {ip: 7}]}}\n",
    "service-ports-string": _SVC + "spec:\n  ports: '80'\n  selector: {app: [x]}\n",
    "deployment": _DEPLOY
    + "spec:\n  template:\n    metadata: x\n    spec:\n      hostNetwork: 'true'\n      serviceAccountName: 5\n"
    + "      containers: [5, {ports: x}, {ports: [5, {containerPort: '80', name: 5, protocol: 6}]}]\n",
    "deployment-template": _DEPLOY + "spec:\n  template: x\n",
    "cronjob": "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: n}\n"
    + "spec: {jobTemplate: {spec: 5}}\n",
    "pod": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n, labels: x}\nspec: [1]\n",
    "hostendpoint": _HEP
    + "spec:\n  node: 5\n  interfaceName: [x]\n  expectedIPs: [5, null, 10.0.0.300, {}]\n  profiles: x\n"
    + "  ports: [5, {name: 5, port: x}, {name: http, port: '80', protocol: 6}]\n",
    "networkset": "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: s, labels: 5}\n"
    + "spec: {nets: [5, null, x, [10.0.0.0/8]]}\n",
    "ippool": "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\n"
    + "spec: {cidr: 5, allowedUses: x, disabled: 'no', blockSize: x, ipipMode: 5, nodeSelector: 5}\n",
    "bgpconfiguration": "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\n"
    + "spec: {serviceClusterIPs: [x, 5, {cidr: 5}, {cidr: [1]}], serviceExternalIPs: x}\n",
    "felixconfiguration": "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\n"
    + "spec: {failsafeInboundHostPorts: [5, x, {port: x, protocol: 5}], failsafeOutboundHostPorts: x,"
    + " kubeNodePortRanges: [5, x, null, '1:2:3'], defaultEndpointToHostAction: 5}\n",
    "kubecontrollers": "apiVersion: projectcalico.org/v3\nkind: KubeControllersConfiguration\n"
    + "metadata: {name: default}\nspec: {controllers: {node: {hostEndpoint: x}}}\n",
    "namespace": "apiVersion: v1\nkind: Namespace\nmetadata: {name: [n], labels: {a: null}}\n",
    "node": "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [5, {address: 5}, x]}\n",
    "tier": "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: [1], defaultAction: 5}\n",
    "staged": "apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: s}\n"
    + "spec: {stagedAction: 5, selector: [], ingress: [{action: [Allow]}]}\n",
    "staged-k8s": "apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\n"
    + "metadata: {name: s, namespace: n}\nspec: {podSelector: [], ingress: [{from: [{podSelector: 5}]}]}\n",
}


#: Documents that are not (quite) resources: skipped or modelled, never a crash.
NOT_RESOURCES = {
    "null-spec": _GNP + "spec: null\n",
    "kind-number": "apiVersion: projectcalico.org/v3\nkind: 5\nmetadata: {name: x}\n",
    "api-number": "apiVersion: 3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\n",
    "kind-list": "apiVersion: v1\nkind: [Service]\nmetadata: {name: x}\n",
    "items-5": "apiVersion: v1\nkind: List\nitems: 5\n",
    "items-junk": "apiVersion: v1\nkind: List\nitems: [5, null, x, [], {kind: 5}, {kind: Service, spec: 7}]\n",
    "scalar-document": "just a string\n",
    "list-document": "[1, 2, {kind: Service}]\n",
}


@pytest.mark.parametrize("name", sorted(NOT_RESOURCES))
def test_documents_that_are_not_resources(tmp_path: Path, name: str) -> None:
    result = run(tmp_path, {"odd.yaml": NOT_RESOURCES[name]})
    assert not found(result, "odd.yaml", "CA001")


@pytest.mark.parametrize("name", sorted(WRONG_TYPES))
def test_wrong_types_are_findings_not_crashes(tmp_path: Path, name: str) -> None:
    result = run(tmp_path, {"wrong.yaml": WRONG_TYPES[name]})
    assert found(result, "wrong.yaml"), "a wrong type should be reported (CA002 or another rule)"


def test_all_wrong_types_together(tmp_path: Path) -> None:
    """Cross-resource rules see all the broken resources at once (a Service with a broken Deployment...)."""
    result = run(tmp_path, {"all.yaml": "---\n".join([*WRONG_TYPES.values(), *NOT_RESOURCES.values()])})
    assert found(result, "all.yaml", "CA002")


# --------------------------------------------------------------------------------------------
# The file system
# --------------------------------------------------------------------------------------------


def test_symlink_loops(tmp_path: Path) -> None:
    write_files(tmp_path, {"repo/p.yaml": POLICY})
    (tmp_path / "repo" / "loop").symlink_to(tmp_path / "repo", target_is_directory=True)
    (tmp_path / "repo" / "self.yaml").symlink_to(tmp_path / "repo" / "self.yaml")
    (tmp_path / "repo" / "a.yaml").symlink_to(tmp_path / "repo" / "b.yaml")
    (tmp_path / "repo" / "b.yaml").symlink_to(tmp_path / "repo" / "a.yaml")
    with within(5):
        result = run(tmp_path)
    assert found(result, "repo/p.yaml") == POLICY_FINDINGS
    assert found(result, "repo/loop") == [("CA001", 1, 1)]
    assert "symlink loop" in messages(result, "repo/loop")[0]
    for name in ("self.yaml", "a.yaml", "b.yaml"):
        assert found(result, f"repo/{name}") == [("CA001", 1, 1)], name


def test_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    (tmp_path / "gone-dir").symlink_to(tmp_path / "missing", target_is_directory=True)
    result = run(tmp_path)
    assert found(result, "gone.yaml") == [("CA001", 1, 1)]
    assert "dangling symlink" in messages(result, "gone.yaml")[0]
    assert [f for f in result.findings if f.severity.label == "warning" and f.location.path == "gone.yaml"]


def test_symlink_outside_the_roots_needs_permission(tmp_path: Path) -> None:
    write_files(tmp_path, {"outside/p.yaml": POLICY})
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "link.yaml").symlink_to(tmp_path / "outside" / "p.yaml")
    (tmp_path / "repo" / "dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    result = run(tmp_path / "repo")
    assert found(result, "link.yaml") == [("CA001", 1, 1)] and found(result, "dir") == [("CA001", 1, 1)]
    assert "not followed" in messages(result, "link.yaml")[0]
    with cwd(tmp_path / "repo"):
        allowed = audit(["."], Config(), Limits(follow_symlinks_outside=True), debug=True)
    # Followed, and the one real file is audited once (under the first name found: dir/ sorts first).
    assert found(allowed, "dir/p.yaml") == POLICY_FINDINGS and found(allowed, "link.yaml") == []


def _root_reads_anything(path: Path) -> bool:
    return os.access(path, os.R_OK)


def test_unreadable_file_and_folder(tmp_path: Path) -> None:
    write_files(tmp_path, {"secret.yaml": POLICY, "locked/p.yaml": POLICY})
    (tmp_path / "secret.yaml").chmod(0)
    (tmp_path / "locked").chmod(0)
    try:
        if _root_reads_anything(tmp_path / "secret.yaml"):
            pytest.skip("running as root: chmod 000 does not stop reading (see the simulated test below)")
        result = run(tmp_path)
        assert found(result, "secret.yaml") == [("CA001", 1, 1)]
        assert "Permission denied" in messages(result, "secret.yaml")[0]
        assert found(result, "locked") == [("CA001", 1, 1)]
    finally:
        (tmp_path / "secret.yaml").chmod(0o644)
        (tmp_path / "locked").chmod(0o755)


def test_unreadable_file_and_folder_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as above, whoever runs the tests: opening the file or listing the folder fails."""
    write_files(tmp_path, {"secret.yaml": POLICY, "locked/p.yaml": POLICY})
    real_open, real_scandir = open, os.scandir

    def deny_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("secret.yaml"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def deny_scandir(path: Any = ".") -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("builtins.open", deny_open)
    monkeypatch.setattr(os, "scandir", deny_scandir)
    result = run(tmp_path)
    monkeypatch.undo()
    assert found(result, "secret.yaml") == [("CA001", 1, 1)]
    assert messages(result, "secret.yaml") == ["cannot read: Permission denied"]
    assert found(result, "locked") == [("CA001", 1, 1)]
    assert messages(result, "locked") == ["cannot read folder: Permission denied"]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    write_files(tmp_path, {"good.yaml": GOOD})
    for args in (["nope.yaml"], ["good.yaml", "nope/"], ["--format", "sarif", "nope"]):
        proc = cli_run(args, tmp_path)
        assert proc.returncode == 2, args
        assert "audit: error: no such file or folder: nope" in proc.stderr
        no_traceback(proc)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_devices_do_not_block(tmp_path: Path) -> None:
    write_files(tmp_path, {"good.yaml": GOOD})
    os.mkfifo(tmp_path / "pipe.yaml")
    proc = cli_run(["--format", "json", "."], tmp_path, timeout=30)
    no_traceback(proc)
    data = {(f["path"], f["rule"], f["line"]) for f in json.loads(proc.stdout)["findings"]}
    assert data == {("pipe.yaml", "CA001", 1), ("good.yaml", "CA003", 6)}
    for special in ("pipe.yaml", "/dev/zero", "/dev/null"):
        if not os.path.exists(special if special.startswith("/") else tmp_path / special):
            continue
        proc = cli_run(["--format", "json", special, "good.yaml"], tmp_path, timeout=30)
        no_traceback(proc)
        rules = [(f["rule"], f["message"]) for f in json.loads(proc.stdout)["findings"]]
        assert ("CA001", "not a regular file (a FIFO or device?), skipped") in rules, special


def test_very_long_paths(tmp_path: Path) -> None:
    name = "p" * 240 + ".yaml"  # near NAME_MAX (255 bytes)
    deep = "/".join(["d" * 200] * 15)  # about 3,000 characters: below PATH_MAX
    result = run(tmp_path, {name: POLICY, f"{deep}/{name}": POLICY.replace("allow-cluster-ips", "deep")})
    assert found(result, name) == POLICY_FINDINGS
    assert found(result, f"{deep}/{name}") == POLICY_FINDINGS
    # Past PATH_MAX (4,096) the folder cannot even be listed: reported, the rest still audited.
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for _ in range(25):
            os.mkdir("e" * 200, dir_fd=fd)
            nxt = os.open("e" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with os.fdopen(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as fh:
            fh.write(POLICY.replace("allow-cluster-ips", "too-deep"))
    finally:
        os.close(fd)
    result = run(tmp_path)
    too_long = [f for f in result.findings if f.rule_id == "CA001" and "File name too long" in f.message]
    assert too_long and found(result, name) == POLICY_FINDINGS


def test_names_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    names = ["my policies/caf\u00e9 \u2603.yaml", "\u4e2d\u6587/\u0645\u0631\u062d\u0628\u0627.yml", " lead.yaml"]
    write_files(tmp_path, {n: POLICY for n in names})
    (tmp_path / os.fsencode("bad\udcff.yaml").decode("utf-8", "surrogateescape")).write_text(POLICY)
    write_files(tmp_path, {"good.yaml": GOOD})
    for fmt in ("json", "sarif", "console", "github", "markdown"):
        proc = cli_run(["--format", fmt, "."], tmp_path)
        no_traceback(proc)
        assert proc.returncode == 1, (fmt, proc.stderr)
        if fmt == "json":
            paths = {f["path"] for f in json.loads(proc.stdout)["findings"]}
            assert {*names, "good.yaml"} <= paths
        if fmt == "sarif":
            uris = {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in json.loads(proc.stdout)["runs"][0]["results"]
            }
            assert {"my%20policies/caf%C3%A9%20%E2%98%83.yaml", "%20lead.yaml", "bad%FF.yaml"} <= uris


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def test_report_into_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    write_files(tmp_path, {"good.yaml": GOOD})
    proc = cli_run(["-o", "out/a/b/report.json", "--format", "json", "--sarif", "out/c/r.sarif", "."], tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads((tmp_path / "out/a/b/report.json").read_text())["findings"]
    assert json.loads((tmp_path / "out/c/r.sarif").read_text())["runs"]
    mode = stat.S_IMODE((tmp_path / "out/a/b/report.json").stat().st_mode)
    assert mode & 0o044, "the report is readable like any new file, not 0600"
    assert not list(tmp_path.glob("out/**/.calico-audit-*"))


def test_report_path_that_cannot_be_created(tmp_path: Path) -> None:
    write_files(tmp_path, {"good.yaml": GOOD, "afile": "x"})
    for target in ("afile/report.json", "."):
        proc = cli_run(["-o", target, "--format", "json", "."], tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"audit: error: cannot write the report to {target}: "), proc.stderr
        no_traceback(proc)


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_failed_write_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], failing: str
) -> None:
    """A full disk mid-write: the old report stays whole and no temporary file is left behind."""
    write_files(tmp_path, {"good.yaml": GOOD, "out/report.json": '{"previous": true}\n'})

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fh: Any) -> None:
                self.fh = fh

            def __enter__(self) -> Full:
                return self

            def __exit__(self, *exc: object) -> None:
                self.fh.close()

            def write(self, text: str) -> int:
                self.fh.write(text[: len(text) // 2])
                self.fh.flush()
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    else:
        monkeypatch.setattr(os, failing, full)
    with cwd(tmp_path):
        code = cli.main(["-o", "out/report.json", "--format", "json", "."])
    monkeypatch.undo()
    assert code == 2
    assert (
        capsys.readouterr().err == "audit: error: cannot write the report to out/report.json: No space left on device\n"
    )
    assert (tmp_path / "out/report.json").read_text() == '{"previous": true}\n'
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_report_to_dev_full_and_dev_stdout(tmp_path: Path) -> None:
    write_files(tmp_path, {"good.yaml": GOOD})
    proc = cli_run(["-o", "/dev/full", "--format", "json", "."], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "audit: error: cannot write the report to /dev/full: No space left on device\n"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode), "/dev/full was replaced by a file"
    proc = cli_run(["-o", "/dev/stdout", "--format", "json", "."], tmp_path)
    assert proc.returncode == 1 and json.loads(proc.stdout)["findings"]
    assert os.path.islink("/dev/stdout") or stat.S_ISCHR(os.stat("/dev/stdout").st_mode)


def test_symlinked_report_stays_a_symlink(tmp_path: Path) -> None:
    write_files(tmp_path, {"good.yaml": GOOD, "reports/real.json": "{}"})
    (tmp_path / "link.json").symlink_to(tmp_path / "reports" / "real.json")
    assert cli_run(["-o", "link.json", "--format", "json", "."], tmp_path).returncode == 1
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "reports" / "real.json").read_text())["findings"]


def _many_findings(root: Path, count: int = 1500) -> None:
    write_files(root, {"many.yaml": "---\n".join(GOOD.replace("good-neighbour", f"p{i}") for i in range(count))})


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_stdout_closed_early(tmp_path: Path, fmt: str) -> None:
    """`audit … | head -1`: no traceback, and the exit code still says there were findings."""
    _many_findings(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", "--format", fmt, "."],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert first
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
    assert code == 1
    shell = subprocess.run(
        f"set -o pipefail; {sys.executable} -m auditor --format {fmt} . | head -1",
        shell=True,
        executable="/bin/bash",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert shell.returncode == 1 and shell.stdout.count("\n") == 1 and "Traceback" not in shell.stderr


# --------------------------------------------------------------------------------------------
# Interrupts
# --------------------------------------------------------------------------------------------


def _interrupt(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode()


def test_ctrl_c_while_reading_stdin(tmp_path: Path) -> None:
    """Blocked on standard input (inside the audit for sure): exit 130, one short line, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", "-"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert proc.stdin is not None
    proc.stdin.write(POLICY.encode())
    proc.stdin.flush()
    time.sleep(2.0)  # started and waiting for the rest of the input
    code, err = _interrupt(proc)
    assert code == 130
    assert err.strip() == "audit: interrupted"


@pytest.mark.slow
def test_ctrl_c_during_a_slow_audit(tmp_path: Path) -> None:
    """A large input that takes seconds: SIGINT mid-audit exits 130 with a short message."""
    policies = "".join(
        f"---\n{_GNP.replace('name: p', f'name: p{i}')}spec:\n  selector: a == '{i}'\n  ingress:\n"
        + "".join(f"  - action: Allow\n    source: {{nets: [10.{j}.{i % 250}.0/24]}}\n" for j in range(20))
        for i in range(3000)
    )
    write_files(tmp_path, {"big.yaml": policies})
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", "."], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    time.sleep(3.0)
    assert proc.poll() is None, "the audit finished before it could be interrupted: make the input larger"
    code, err = _interrupt(proc)
    assert code == 130
    assert err.strip() == "audit: interrupted"


# --------------------------------------------------------------------------------------------
# The configuration file is read from the audited repository too
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("select: " + "[" * 100_000 + "]" * 100_000 + "\n", "invalid YAML"),  # SIGSEGV with libyaml
        (billion_laughs(), ""),
        ("select: [\xff]\n", "invalid YAML"),
        ("select: !!python/object/apply:os.system [true]\n", "invalid YAML"),
    ],
    ids=["deep", "bomb", "latin-1", "python-tag"],
)
def test_hostile_configuration_file(tmp_path: Path, config: str, expected: str) -> None:
    write_files(tmp_path, {".calico-audit.yaml": config.encode("latin-1"), "good.yaml": GOOD})
    proc = cli_run(["good.yaml"], tmp_path, timeout=30)
    no_traceback(proc)
    assert proc.returncode == 2
    assert proc.stderr.startswith("audit: error: ") and ".calico-audit.yaml" in proc.stderr
    assert expected in proc.stderr
