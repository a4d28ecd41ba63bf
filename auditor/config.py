"""Run configuration: rule selection, severities and the cluster facts rules need.

Values come from (lowest to highest precedence) the defaults here, ``[tool.calico-audit]`` in
``pyproject.toml`` or ``.calico-audit.yaml`` (the first found from the working directory upwards,
or ``--config FILE``), and the command line. The file is validated against
``schemas/config.json``; an unknown key or a bad value is a :class:`ConfigError` (exit code 2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.findings import Severity

DEFAULT_NODE_PORT_RANGE = "30000:32767"
DEFAULT_POD_CIDRS = ("192.168.0.0/16",)  # Calico's default IP pool
DEFAULT_SERVICE_CIDRS = ("10.96.0.0/12",)  # kube-apiserver's default --service-cluster-ip-range
CONFIG_FILES = (".calico-audit.yaml", ".calico-audit.yml", "pyproject.toml")


class ConfigError(Exception):
    """A configuration file or option that cannot be used."""


@dataclass
class Config:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: Severity | None = Severity.WARNING  # None: never fail
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    per_path_ignores: dict[str, list[str]] = field(default_factory=dict)
    # Several clusters in one repository: folders audited each on its own, and files shared by all.
    clusters: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    default_namespace: str = "default"
    max_file_size: int = 20 * 1024 * 1024
    # Cluster facts, used when the repository does not declare them.
    pod_cidrs: list[str] = field(default_factory=list)
    service_cidrs: list[str] = field(default_factory=list)
    node_port_range: str = ""
    node_selector: str = ""
    advertised_cidrs: list[str] = field(default_factory=list)
    host_endpoints: str = "assume"  # "assume": host policies imply host endpoints when none are declared
    kube_proxy_mode: str = ""  # iptables | ipvs | nftables | ebpf; "" = iptables, assumed
    pre_commit_report: str = "changed"
    # Helm charts and kustomizations are rendered when helm / kustomize are on PATH (auditor.render).
    render: bool = True
    helm_values: dict[str, list[str]] = field(default_factory=dict)  # chart folder (or glob) -> value files
    #: the cache of parsed files; None: the default (``.calico-audit-cache`` beside the config file,
    #: or in the working directory), "" when turned off
    cache_dir: str | None = None
    source: str = "defaults"  # where the configuration came from, for --show-config

    def as_mapping(self) -> dict[str, Any]:
        """The effective configuration in file syntax (``--show-config``)."""
        return {
            "select": self.select,
            "extend-select": self.extend_select,
            "ignore": self.ignore,
            "severity": {k: v.label for k, v in sorted(self.severity.items())},
            "fail-on": self.fail_on.label if self.fail_on else "never",
            "include": self.include,
            "exclude": self.exclude,
            "per-path-ignores": self.per_path_ignores,
            "clusters": self.clusters,
            "shared": self.shared,
            "default-namespace": self.default_namespace,
            "max-file-size": self.max_file_size,
            "pre-commit": {"report": self.pre_commit_report},
            "render": self.render,
            "helm-values": self.helm_values,
            **({"cache-dir": self.cache_dir} if self.cache_dir else {}),
            "cluster": {
                "pod-cidrs": self.pod_cidrs,
                "service-cidrs": self.service_cidrs,
                "node-port-range": self.node_port_range,
                "node-selector": self.node_selector,
                "advertised-cidrs": self.advertised_cidrs,
                "host-endpoints": self.host_endpoints,
                "kube-proxy-mode": self.kube_proxy_mode or "iptables",
            },
        }


_SCALAR_KEYS = {
    "default-namespace": "default_namespace",
    "max-file-size": "max_file_size",
    "render": "render",
    "cache-dir": "cache_dir",
}
_LIST_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "extend-select": "extend_select",
    "include": "include",
    "exclude": "exclude",
    "clusters": "clusters",
    "shared": "shared",
}
_CLUSTER_KEYS = {
    "pod-cidrs": "pod_cidrs",
    "service-cidrs": "service_cidrs",
    "node-port-range": "node_port_range",
    "node-selector": "node_selector",
    "advertised-cidrs": "advertised_cidrs",
    "host-endpoints": "host_endpoints",
    "kube-proxy-mode": "kube_proxy_mode",
}


def _schema() -> dict[str, Any]:
    from importlib import resources

    try:
        text = resources.files("auditor.schemas").joinpath("config.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:  # running from a source tree without the package mapping
        here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas", "config.json")
        with open(here, encoding="utf-8") as fh:
            text = fh.read()
    return json.loads(text)


def validate_settings(settings: Mapping[str, Any], origin: str) -> None:
    """Raise ConfigError with a plain message when ``settings`` does not match schemas/config.json."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(dict(settings)), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        raise ConfigError(
            f"{origin}: unknown key {', '.join(map(repr, extra))} in {where}; known keys: {', '.join(allowed)}"
        )
    raise ConfigError(f"{origin}: {where}: {error.message}")


def apply(config: Config, settings: Mapping[str, Any], origin: str) -> Config:
    """Apply validated settings (file syntax, kebab-case keys) on top of ``config``."""
    validate_settings(settings, origin)
    for key, attr in _LIST_KEYS.items():
        if key in settings:
            setattr(config, attr, list(settings[key]))
    for key, attr in _SCALAR_KEYS.items():
        if key in settings:
            setattr(config, attr, settings[key])
    if "fail-on" in settings:
        value = settings["fail-on"]
        config.fail_on = None if value == "never" else Severity.parse(value)
    if "severity" in settings:
        for rule, level in settings["severity"].items():
            config.severity[rule.strip()] = Severity.parse(level)  # IDs or names: the catalog resolves them
    if "per-path-ignores" in settings:
        config.per_path_ignores.update({k: list(v) for k, v in settings["per-path-ignores"].items()})
    if "helm-values" in settings:
        config.helm_values.update({k: list(v) for k, v in settings["helm-values"].items()})
    if "report" in settings.get("pre-commit", {}):
        config.pre_commit_report = settings["pre-commit"]["report"]
    for key, attr in _CLUSTER_KEYS.items():
        if key in settings.get("cluster", {}):
            value = settings["cluster"][key]
            setattr(config, attr, list(value) if isinstance(value, list) else value)
    _check_facts(config, origin)
    return config


def _check_facts(config: Config, origin: str) -> None:
    from auditor import selector
    from auditor.nets import NetError, parse_cidr
    from auditor.ports import PortError, parse_range_text

    for attr in ("pod_cidrs", "service_cidrs", "advertised_cidrs"):
        for value in getattr(config, attr):
            try:
                parse_cidr(value)
            except NetError as exc:
                raise ConfigError(f"{origin}: cluster.{attr.replace('_', '-')}: {exc}") from None
    if config.node_port_range:
        try:
            parse_range_text(config.node_port_range)
        except (PortError, ValueError):
            raise ConfigError(
                f"{origin}: cluster.node-port-range: {config.node_port_range!r} is not a range like 30000:32767"
            ) from None
    if config.node_selector:
        try:
            selector.parse(config.node_selector)
        except selector.SelectorError as exc:
            raise ConfigError(f"{origin}: cluster.node-selector: {exc.message}") from None


def read_file(path: str) -> dict[str, Any] | None:
    """Settings from one config file; None for a pyproject.toml without ``[tool.calico-audit]``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.endswith(".toml"):
        import tomllib

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        section = data.get("tool", {}).get("calico-audit")
        if section is None:
            return None
        return section
    from ruamel.yaml import YAML

    try:
        # The pure parser: libyaml's composer recurses on the C stack and a deeply nested file
        # crashes the process; the pure one raises RecursionError, reported like any YAML error.
        data = YAML(typ="safe", pure=True).load(raw.decode("utf-8"))
    except Exception as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    return data


def discover(start: str | None = None) -> str | None:
    """The nearest config file from ``start`` (default: the working directory) upwards."""
    folder = os.path.abspath(start or os.getcwd())
    while True:
        for name in CONFIG_FILES:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                if name == "pyproject.toml" and read_file(candidate) is None:
                    continue
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def load_config(
    explicit: str | None = None,
    isolated: bool = False,
    overrides: Mapping[str, Any] | None = None,
    start: str | None = None,
) -> Config:
    """The effective configuration: defaults, then the config file, then command-line overrides."""
    config = Config()
    path = None if isolated else (explicit or discover(start))
    if explicit and not isolated and not os.path.isfile(explicit):
        raise ConfigError(f"config file not found: {explicit}")
    if path:
        settings = read_file(path)
        if settings is None:
            raise ConfigError(f"{path}: no [tool.calico-audit] section")
        apply(config, settings, path)
        config.source = path
        if config.cache_dir and not os.path.isabs(config.cache_dir):  # relative to the config file
            config.cache_dir = os.path.join(os.path.dirname(os.path.abspath(path)), config.cache_dir)
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    for key in ("ignore", "exclude"):  # these add to the file's lists, like ruff's --extend-*
        if key in cli:
            cli[key] = [*getattr(config, key), *cli[key]]
    if cli:
        apply(config, cli, "command line")
    return config


def from_mapping(settings: Mapping[str, Any]) -> Config:
    """A configuration from file-syntax settings alone (rule examples, tests)."""
    return apply(Config(), settings, "settings")


def cache_folder(config: Config, environ: Mapping[str, str] | None = None) -> str | None:
    """The folder of the parse cache for this run, or None when the cache is off.

    An explicit ``cache-dir`` (config file or ``--cache-dir``) is used as given. Otherwise the default
    is ``.calico-audit-cache`` beside the configuration file, or in the working directory; under CI
    (``CI`` set to anything but ``false``/``0``/empty) there is no default: a CI checkout is fresh,
    so the cache would only cost writing it, unless its folder is kept between jobs and named.
    """
    from auditor.cache import DEFAULT_DIR

    if config.cache_dir is not None:
        return config.cache_dir or None
    env = os.environ if environ is None else environ
    if env.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return None
    if config.source not in ("defaults", "settings") and os.path.isfile(config.source):
        return os.path.join(os.path.dirname(os.path.abspath(config.source)), DEFAULT_DIR)
    return DEFAULT_DIR
