"""``audit schemas --export DIR``: the editor schemas, used the way the YAML language server uses them.

Every check loads the exported files from disk by path, resolves their relative ``$ref`` from disk
(never from the package), picks a document's schema through ``catalog.json`` or dispatches through
``all.json``, and validates with jsonschema's draft-07 validator. The oracle is calico-audit's own
schema check (rule CA002's ``auditor.schema.validate``): the editor must accept what it accepts and
reject what it rejects.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from auditor import schema as tool
from auditor.cli import main
from auditor.load import SourceFile, parse_text
from auditor.schema_export import DRAFT_07, export
from tests.conftest import ROOT, SHARED

EXAMPLES = ROOT / "examples"
CORPUS = SHARED / "corpus" / "real"
GUIDE_THIRD = CORPUS / "tigera__docs" / "calico__network-policy__services__services-cluster-ips.mdx__L131.yaml"
CALICO_GROUPS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")


class Editor:
    """The exported folder as an editor sees it: files on disk, relative refs resolved from disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.loaded: list[str] = []
        self.registry: Registry = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        catalog = json.loads((self.folder / "catalog.json").read_text(encoding="utf-8"))
        self.catalog = catalog
        self.files = {(e["apiVersion"], e["kind"]): e["file"] for e in catalog["schemas"]}
        self._validators: dict[str, Draft7Validator] = {}

    def _retrieve(self, uri: str) -> Resource:
        assert uri.startswith("file://"), f"a ref that does not resolve to a file beside the schema: {uri}"
        path = Path(uri.removeprefix("file://"))
        self.loaded.append(path.relative_to(self.folder).as_posix())
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT7)

    def validator(self, relative: str) -> Draft7Validator:
        """A validator for the file ``relative``, with the file's own URI as the base for its refs."""
        found = self._validators.get(relative)
        if found is None:
            found = Draft7Validator({"$ref": (self.folder / relative).as_uri()}, registry=self.registry)
            self._validators[relative] = found
        return found

    def errors(self, relative: str, document: Any) -> list[Any]:
        return list(self.validator(relative).iter_errors(document))

    def by_catalog(self, document: dict[str, Any]) -> list[Any] | None:
        """Errors of ``document`` under the schema the catalog names for it; None when it has none."""
        key = (document.get("apiVersion"), document.get("kind"))
        file = self.files.get(key)  # type: ignore[arg-type]
        return None if file is None else self.errors(file, document)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("editor-schemas")
    export(folder)
    return folder


@pytest.fixture(scope="module")
def editor(exported: Path) -> Editor:
    return Editor(exported)


def _documents(path: Path) -> Iterator[Any]:
    docs, _problems = parse_text(SourceFile(str(path), None, path.read_text(encoding="utf-8", errors="replace")))
    for doc in docs:
        yield doc.data


def _resources(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for item in data for r in _resources(item)]
    if isinstance(data, dict) and str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        return _resources(data["items"])
    return [data] if isinstance(data, dict) else []


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# --------------------------------------------------------------------------------------------
# What is written
# --------------------------------------------------------------------------------------------


def test_every_kind_the_tool_checks_has_a_file_in_the_catalog(exported: Path, editor: Editor) -> None:
    assert set(editor.files) == set(tool.kinds())
    for (api_version, kind), file in editor.files.items():
        assert (exported / file).is_file(), file
        document = json.loads((exported / file).read_text(encoding="utf-8"))
        assert document["properties"]["kind"]["const"] == kind
        api = document["properties"]["apiVersion"]
        assert api_version in (api.get("enum") or [api.get("const")])
    calico_kinds = {kind for (api, kind), file in editor.files.items() if file.startswith("calico/")}
    assert {"GlobalNetworkPolicy", "NetworkPolicy", "HostEndpoint", "IPPool", "BGPConfiguration"} <= calico_kinds
    for kind in calico_kinds:  # both API groups, one file
        assert editor.files[(CALICO_GROUPS[0], kind)] == editor.files[(CALICO_GROUPS[1], kind)]
    assert editor.catalog["combined"] == "all.json"
    assert editor.catalog["draft"] == DRAFT_07


def test_schemas_are_valid_draft_07_and_self_contained(exported: Path) -> None:
    files = sorted(p for p in exported.rglob("*.json") if p.name != "catalog.json")
    assert len(files) == len({f for f in tool.kind_files().values()}) + 1
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["$schema"] == DRAFT_07, path
        Draft7Validator.check_schema(document)
        refs = [node["$ref"] for node in _walk(document) if isinstance(node.get("$ref"), str)]
        assert not any("$id" in node or "$defs" in node for node in _walk(document)), path
        if path.name == "all.json":
            # Only relative refs to files beside it (and itself, for lists of resources).
            assert refs and all(r == "#" or (exported / r).is_file() for r in refs)
        else:
            assert refs == [], f"{path} is not self-contained: {refs[:3]}"
            assert "$id" not in document  # relative refs and modelines resolve against the file's own path


def test_api_version_and_kind_are_pinned(editor: Editor) -> None:
    gnp = editor.files[(CALICO_GROUPS[0], "GlobalNetworkPolicy")]
    good = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "a"}}
    assert editor.errors(gnp, good) == []
    assert editor.errors(gnp, {**good, "apiVersion": "crd.projectcalico.org/v1"}) == []
    for wrong in ({"kind": "NetworkPolicy"}, {"apiVersion": "networking.k8s.io/v1"}, {"apiVersion": "v1"}):
        errors = editor.errors(gnp, {**good, **wrong})
        assert [list(e.absolute_path) for e in errors] == [[next(iter(wrong))]], wrong
    missing = editor.errors(gnp, {"metadata": {"name": "a"}})
    assert {e.validator for e in missing} == {"required"}
    assert "apiVersion" in str([e.message for e in missing]) and "kind" in str([e.message for e in missing])
    deployment = editor.files[("apps/v1", "Deployment")]
    assert editor.errors(deployment, {**good, "kind": "Deployment"})  # a Calico apiVersion is not apps/v1


def test_repeated_export_is_byte_identical(exported: Path, tmp_path: Path) -> None:
    def snapshot(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    first = snapshot(exported)
    export(tmp_path / "again")
    export(tmp_path / "again")  # over its own output
    assert snapshot(tmp_path / "again") == first
    assert all(data.endswith(b"\n") for data in first.values())


# --------------------------------------------------------------------------------------------
# The examples, the guide and the corpus, checked the way an editor checks them
# --------------------------------------------------------------------------------------------


def test_examples_agree_with_the_tool(editor: Editor) -> None:
    checked = 0
    rejected: list[str] = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for data in _documents(path):
            combined = editor.errors("all.json", data)
            tool_invalid = False
            for resource in _resources(data):
                errors = editor.by_catalog(resource)
                if errors is None:
                    continue
                checked += 1
                invalid = bool(tool.validate(resource["apiVersion"], resource["kind"], resource))
                tool_invalid |= invalid
                assert bool(errors) == invalid, (path, resource.get("metadata"), [e.message for e in errors])
                if errors:
                    rejected.append(f"{path.relative_to(EXAMPLES).as_posix()}:{resource['metadata']['name']}")
            assert bool(combined) == tool_invalid, (path, [e.message for e in combined])
    assert checked > 50
    # The guide-following cluster is clean; the schema-violation variant is the guide's third example.
    assert rejected == ["variants/ca002-schema-violation.yaml:guide-allow-traffic-hostendpoints"]


def test_clean_examples_pass_and_the_guides_third_example_fails(editor: Editor) -> None:
    clean = [p for folder in ("cluster", "cluster-mode", "local-mode") for p in (EXAMPLES / folder).rglob("*.yaml")]
    assert clean
    for path in clean:
        for data in _documents(path):
            assert editor.errors("all.json", data) == [], path
    (variant,) = _documents(EXAMPLES / "variants" / "ca002-schema-violation.yaml")
    errors = editor.errors("all.json", variant)
    assert errors and all(list(e.absolute_path)[:2] == ["spec", "types"] for e in errors)
    if not GUIDE_THIRD.is_file():
        pytest.skip("shared/corpus/real not available")
    (guide,) = _documents(GUIDE_THIRD)
    paths = {tuple(e.absolute_path) for e in editor.by_catalog(guide) or []}
    assert ("spec", "types", 1) in paths and ("spec", "types", 2) in paths


def test_real_corpus_agrees_with_the_tool(editor: Editor) -> None:
    if not CORPUS.is_dir():
        pytest.skip("shared/corpus/real not available")
    checked = 0
    disagreements = []
    for path in sorted(CORPUS.glob("*/*.yaml")):
        for data in _documents(path):
            for resource in _resources(data):
                errors = editor.by_catalog(resource)
                if errors is None:
                    continue
                checked += 1
                invalid = bool(tool.validate(resource["apiVersion"], resource["kind"], resource))
                if bool(errors) != invalid:
                    disagreements.append((path.name, resource.get("kind"), [e.message for e in errors][:2]))
    assert checked > 300
    assert disagreements == []


def test_the_combined_schema_dispatches_and_leaves_other_kinds_alone(editor: Editor) -> None:
    policy = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "a"},
        "spec": {"preDNAT": "yes"},
    }
    (error,) = editor.errors("all.json", policy)
    assert list(error.absolute_path) == ["spec", "preDNAT"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"clusterIP": 10}}
    assert [list(e.absolute_path) for e in editor.errors("all.json", service)] == [["spec", "clusterIP"]]
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": 1}}
    assert editor.errors("all.json", other) == []
    assert editor.errors("all.json", "just a string") == []
    # A top-level list of resources (calicoctl applies it) and a kind: List are checked item by item.
    assert [list(e.absolute_path) for e in editor.errors("all.json", [other, policy])] == [[1, "spec", "preDNAT"]]
    listed = {"apiVersion": "v1", "kind": "List", "items": [policy]}
    assert [list(e.absolute_path) for e in editor.errors("all.json", listed)] == [["items", 0, "spec", "preDNAT"]]
    assert "calico/globalnetworkpolicy.json" in editor.loaded  # resolved from disk, relative to all.json


def test_empty_optional_fields_are_accepted_like_the_tool_accepts_them(editor: Editor) -> None:
    base = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "a"}}
    gnp = editor.files[(base["apiVersion"], base["kind"])]
    empty = {**base, "spec": {"selector": None, "types": None, "ingress": [{"action": "Allow", "source": None}]}}
    assert tool.validate(base["apiVersion"], base["kind"], empty) == []
    assert editor.errors(gnp, empty) == []
    no_name = {**base, "metadata": {"name": None}}  # a required field left empty is still missing
    assert tool.validate(base["apiVersion"], base["kind"], no_name)
    assert editor.errors(gnp, no_name)


# --------------------------------------------------------------------------------------------
# The plain-language text, where the language server shows it
# --------------------------------------------------------------------------------------------


def test_descriptions_and_messages_reach_the_editor(exported: Path, editor: Editor) -> None:
    source = tool.resolved_schema("calico/globalnetworkpolicy.json")
    gnp = json.loads((exported / "calico" / "globalnetworkpolicy.json").read_text(encoding="utf-8"))
    spec = gnp["properties"]["spec"]["properties"]
    assert spec["preDNAT"]["description"] == source["properties"]["spec"]["properties"]["preDNAT"]["description"]
    assert spec["preDNAT"]["markdownDescription"] == spec["preDNAT"]["description"]
    described = [n for n in _walk(gnp) if "description" in n]
    assert len(described) > 50 and all(n["markdownDescription"] == n["description"] for n in described)
    # x-unknown-field-hints: a forbidden property that says where the field belongs.
    pod_selector = spec["podSelector"]
    assert pod_selector["not"] == {} and pod_selector["doNotSuggest"] is True
    assert "a Calico policy uses `selector`" in pod_selector["deprecationMessage"]
    document = {**{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "a"}},
                "spec": {"podSelector": {}}}
    assert [list(e.absolute_path) for e in editor.errors("calico/globalnetworkpolicy.json", document)] == [
        ["spec", "podSelector"]
    ]
    # x-expected becomes the pattern's message; x-type-hint the message of a type-only node.
    felix = json.loads((exported / "calico" / "felixconfiguration.json").read_text(encoding="utf-8"))
    patterned = [n for n in _walk(felix) if "pattern" in n]
    assert patterned and all(n["patternErrorMessage"].startswith("Expected ") for n in patterned)
    duration = felix["properties"]["spec"]["properties"]["reportingInterval"]
    assert duration["patternErrorMessage"] == "Expected a duration such as `30s`, `5m` or `1h30m`."
    selector = spec["selector"]
    assert "`matchLabels` mappings are Kubernetes syntax" in selector["errorMessage"]
    assert not any(k.startswith("x-") and k != "x-kubernetes-group-version-kind" for n in _walk(gnp) for k in n)


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_cli_exports(tmp_path: Path, exported: Path) -> None:
    run = _cli(["schemas", "--export", "out"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "all.json" in run.stderr
    assert (tmp_path / "out" / "all.json").read_bytes() == (exported / "all.json").read_bytes()
    assert main(["schemas", f"--export={tmp_path / 'eq'}"]) == 0
    assert (tmp_path / "eq" / "catalog.json").is_file()


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["schemas", "--export", str(tmp_path / "a-file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no folder named schemas here: `audit schemas` needs --export
    assert main(["schemas"]) == 2
    assert "--export" in capsys.readouterr().err


def test_a_folder_named_schemas_is_audited_unless_export_follows(tmp_path: Path) -> None:
    policy = (
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: a\n"
        "spec:\n  selector: all()\n  preDNAT: yes-please\n"
    )
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "p.yaml").write_text(policy, encoding="utf-8")
    run = _cli(["schemas", "--format", "json"], tmp_path)
    assert run.returncode == 1, run.stderr
    assert [f["path"] for f in json.loads(run.stdout)["findings"] if f["rule"] == "CA002"] == ["schemas/p.yaml"]
    run = _cli(["schemas", "--export", "schemas/out"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "schemas" / "out" / "all.json").is_file()


# --------------------------------------------------------------------------------------------
# The real YAML language server, when it is installed (npm install yaml-language-server; point
# YAML_LANGUAGE_SERVER at its bin/yaml-language-server, or put it on PATH)
# --------------------------------------------------------------------------------------------


def _language_server() -> list[str] | None:
    explicit = os.environ.get("YAML_LANGUAGE_SERVER", "")
    if explicit and os.path.isfile(explicit) and shutil.which("node"):
        return ["node", explicit, "--stdio"]
    found = shutil.which("yaml-language-server")
    return [found, "--stdio"] if found else None


class _LanguageServer:
    """A minimal LSP client: configure, open files, collect the diagnostics, ask for hover text."""

    def __init__(self, command: list[str], root: Path, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.diagnostics: dict[str, list[dict[str, Any]]] = {}
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.request("initialize", {
            "processId": os.getpid(), "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": "ws"}],
            "capabilities": {"workspace": {"configuration": True},
                             "textDocument": {"hover": {"contentFormat": ["markdown"]}}},
        })
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": settings})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            headers: dict[bytes, bytes] = {}
            while True:
                line = out.readline()
                if not line:
                    return  # the server exited
                if not line.strip():
                    break
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            message = json.loads(out.read(int(headers[b"content-length"])))
            if message.get("method") == "workspace/configuration":
                items = message["params"]["items"]
                self._send({"id": message["id"], "result": [self.settings.get(i.get("section", "")) for i in items]})
            elif "id" in message and "method" in message:
                self._send({"id": message["id"], "result": None})
            elif message.get("method") == "textDocument/publishDiagnostics":
                self.diagnostics[message["params"]["uri"]] = message["params"]["diagnostics"]
            else:
                self.messages.put(message)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        self._send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.messages.get(timeout=30)
            if message.get("id") == self.next_id:
                return message.get("result")

    def check(self, path: Path) -> list[dict[str, Any]]:
        uri = path.resolve().as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": path.read_text(encoding="utf-8")}})
        deadline = time.monotonic() + 20
        while uri not in self.diagnostics and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a second publication may follow once the schema is loaded
        assert uri in self.diagnostics, f"no diagnostics for {path}"
        return self.diagnostics[uri]

    def hover(self, path: Path, line: int, column: int) -> str:
        result = self.request("textDocument/hover", {"textDocument": {"uri": path.resolve().as_uri()},
                                                     "position": {"line": line - 1, "character": column - 1}})
        return str(result["contents"]["value"]) if result else ""

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.mark.slow
@pytest.mark.skipif(_language_server() is None, reason="yaml-language-server not installed (YAML_LANGUAGE_SERVER)")
def test_the_readme_setups_in_the_yaml_language_server(tmp_path: Path) -> None:
    command = _language_server()
    assert command is not None
    assert main(["schemas", "--export", str(tmp_path / ".vscode" / "calico-schemas")]) == 0
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    for folder in ("cluster", "cluster-mode", "local-mode"):
        for path in (EXAMPLES / folder).glob("*.yaml"):
            shutil.copy(path, manifests / f"{folder}-{path.name}")
    shutil.copy(EXAMPLES / "variants" / "ca002-schema-violation.yaml", manifests / "guide-third.yaml")
    modeline = tmp_path / "policies" / "p.yaml"
    modeline.parent.mkdir()
    modeline.write_text(
        "# yaml-language-server: $schema=../.vscode/calico-schemas/calico/globalnetworkpolicy.json\n"
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: p\n"
        "spec:\n  preDNAT: true\n  podSelector: {}\n  types: [ingress]\n",
        encoding="utf-8",
    )
    # The README's settings.json, as VS Code sends it.
    settings = {"yaml": {"schemas": {"./.vscode/calico-schemas/all.json": ["*.yaml", "*.yml"]}, "validate": True}}
    server = _LanguageServer(command, tmp_path, settings)
    try:
        for path in sorted(manifests.glob("*.yaml")):
            diagnostics = server.check(path)
            if path.name == "guide-third.yaml":
                assert {d["range"]["start"]["line"] + 1 for d in diagnostics} >= {12, 18}  # the two misplaced rules
            else:
                assert diagnostics == [], (path.name, diagnostics)
        messages = [d["message"] for d in server.check(modeline)]
        assert any("a Calico policy uses `selector`" in m for m in messages), messages
        assert any("Ingress" in m for m in messages), messages
        assert "Pre-DNAT policy" in server.hover(modeline, 7, 4)
    finally:
        server.close()
