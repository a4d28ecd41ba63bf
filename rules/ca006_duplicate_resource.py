"""CA006 duplicate-resource: the same object defined twice; one silently replaces the other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from auditor.catalog import Rule
from auditor.config import Config
from auditor.context import Context
from auditor.engine import resolve
from auditor.findings import Issue, Pointer, Related, Severity
from auditor.model import Model, Resource
from auditor.run import SHARED, UNSCOPED, cluster_of

RULE = Rule(
    id="CA006",
    name="duplicate-resource",
    title="The same kind/namespace/name is defined more than once",
    severity=Severity.WARNING,
    rationale=(
        "Kubernetes and Calico identify an object by kind, namespace and name. When a repository defines "
        "one twice, whichever is applied last wins without a warning, so a reviewed policy can be replaced "
        "by a stale copy. `projectcalico.org/v3` and `crd.projectcalico.org/v1` spellings of a kind are the "
        "same object."
    ),
    remediation=(
        "Keep one definition: rename or delete the other. If the copies belong to different clusters "
        "(`clusters/prod` and `clusters/staging`, kustomize overlays), configure `clusters` so that each folder "
        "is audited as its own cluster. When the tree plainly holds several clusters (a BGPConfiguration, "
        "FelixConfiguration, KubeControllersConfiguration or ClusterInformation named `default` in sibling "
        "folders) and `clusters` is not configured, this rule reports that once, as a note with the "
        "configuration line to add, instead of a duplicate per pair."
    ),
    tags=("structure",),
)


#: Kinds of which a cluster has exactly one, named ``default``: two of them in sibling folders mean
#: the tree holds several clusters, not one cluster with a duplicate.
CLUSTER_SINGLETONS = ("BGPConfiguration", "FelixConfiguration", "KubeControllersConfiguration", "ClusterInformation")
#: Folder names that kustomize layouts share between clusters.
SHARED_FOLDERS = frozenset({"base", "bases"})


@dataclass(frozen=True)
class SeveralClusters:
    """What the tree looks like when it holds several clusters: the configuration that splits it."""

    clusters: tuple[str, ...]  # globs for ``clusters``
    shared: tuple[str, ...]  # globs for ``shared``
    evidence: tuple[tuple[Resource, ...], ...]  # the ``default`` singletons defined more than once

    @property
    def config(self) -> Config:
        return Config(clusters=list(self.clusters), shared=list(self.shared))

    def lines(self) -> list[str]:
        """The configuration lines that fix it, in ``[tool.calico-audit]`` (TOML) syntax."""
        lines = [f"clusters = {_toml_list(self.clusters)}"]
        if self.shared:
            lines.append(f"shared = {_toml_list(self.shared)}")
        return lines


def _toml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def _folder(resource: Resource) -> tuple[str, ...]:
    return tuple(resource.file.split("/")[:-1])


def _split(group: list[Resource]) -> tuple[str, tuple[str, ...]] | None:
    """The ``clusters`` glob (and shared folders) that puts the definitions of one ``default``
    singleton in sibling folders, one cluster each, or None when they are not in sibling folders.
    Two definitions in one of those folders stay a duplicate within that cluster."""
    folders = [_folder(r) for r in group]
    shared = {f[: f.index(part) + 1] for f in folders for part in f if part in SHARED_FOLDERS}
    rest = [f for f in folders if not any(part in SHARED_FOLDERS for part in f)]
    if len(rest) < 2:
        return None
    common: tuple[str, ...] = ()
    for parts in zip(*rest, strict=False):
        if len(set(parts)) != 1:
            break
        common += (parts[0],)
    tops = [f[len(common)] if len(f) > len(common) else None for f in rest]
    if None in tops:
        return None  # a definition directly in the common folder: one tree, a real duplicate
    glob = "/".join((*common, "*"))
    return glob, tuple(sorted("/".join((*f, "**")) for f in shared))


def several_clusters(model: Model) -> SeveralClusters | None:
    """Whether the tree (audited as one cluster) plainly holds several: a ``default`` singleton
    defined in sibling folders, such as ``clusters/a`` and ``clusters/b``."""
    globs: set[str] = set()
    shared: set[str] = set()
    evidence: list[tuple[Resource, ...]] = []
    for (_, kind, _, name), group in model.by_key.items():
        if kind not in CLUSTER_SINGLETONS or name != "default" or len(group) < 2 or not group[0].is_calico:
            continue
        split = _split(group)
        if split is not None:
            globs.add(split[0])
            shared.update(split[1])
            evidence.append(tuple(group))
    if not evidence:
        return None
    evidence.sort(key=lambda g: CLUSTER_SINGLETONS.index(g[0].kind))
    return SeveralClusters(tuple(sorted(globs)), tuple(sorted(shared)), tuple(evidence))


def _several_clusters_issue(found: SeveralClusters) -> Issue:
    first = found.evidence[0]
    folders = sorted({"/".join(_folder(r)) for r in first})
    where = " and ".join(folders)
    if len(folders) > 3:
        where = f"{', '.join(folders[:2])} and {len(folders) - 2} more folders"
    also = [g[0].kind for g in found.evidence[1:]]
    others = f" ({', '.join(also)} default too)" if also else ""
    message = (
        f"this tree holds several clusters: {first[0].kind} default is defined in {where}{others}, and audited "
        "as one cluster their resources are judged against each other's. "
        "Duplicate resources between these folders are not reported"
    )
    fix = (
        f"Audit each cluster on its own: add {' and '.join(f'`{line}`' for line in found.lines())} to "
        '[tool.calico-audit] (see README, "Several clusters in one repository").'
    )
    related = tuple(Related(r.ptr("metadata", "name"), f"{r.kind} default") for g in found.evidence for r in g)
    return Issue(
        message=message,
        fix=fix,
        at=first[1].ptr("metadata", "name"),
        related=tuple(rel for rel in related if rel.at != first[1].ptr("metadata", "name")),
        identity="several-clusters",
        key="; ".join(found.lines()),
        severity=Severity.NOTE,
    )


def check(ctx: Context) -> Iterator[Issue]:
    found = None if ctx.config.clusters else several_clusters(ctx.model)
    if found is not None:
        yield _several_clusters_issue(found)
    split = found.config if found is not None else None
    for group in ctx.model.by_key.values():
        if len(group) < 2 or not group[0].name:
            continue
        for first, other in _pairs(group, split):
            same = first.data == other.data
            yield Issue(
                message=(
                    f"{other.display} is already defined at {_file_line(first.ptr('metadata', 'name'))}"
                    + (" with identical content" if same else "; whichever is applied last replaces the other")
                ),
                fix=(
                    "Remove this copy; one is enough."
                    if same
                    else "Keep one definition: remove or rename the one that is not meant to apply."
                ),
                at=other.ptr("metadata", "name"),
                related=(Related(first.ptr("metadata", "name"), "first definition"),),
                identity=other.identity,
                key=other.file,
                severity=Severity.NOTE if same else None,
            )


def _pairs(group: list[Resource], split: Config | None) -> Iterator[tuple[Resource, Resource]]:
    """Each later definition with the first one, within each cluster the suggested configuration
    would make (a shared definition belongs to all of them)."""
    if split is None:
        for other in group[1:]:
            yield group[0], other
        return
    buckets: dict[str, list[Resource]] = {}
    shared: list[Resource] = []
    for r in group:
        where = cluster_of(r.file, split)
        if where == SHARED:
            shared.append(r)
        else:
            buckets.setdefault(where or UNSCOPED, []).append(r)
    reported: set[int] = set()
    for members in buckets.values() or [[]]:
        ordered = sorted([*shared, *members], key=group.index)
        for other in ordered[1:]:
            if id(other) not in reported:
                reported.add(id(other))
                yield ordered[0], other


def _file_line(pointer: Pointer) -> str:
    """``file:line`` of a place (the source of a rendered Helm or kustomize document)."""
    where = resolve(pointer)
    return f"{where.path}:{where.span.line}"
