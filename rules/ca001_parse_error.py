"""CA001 parse-error: a file that cannot be read as YAML or JSON is a file nobody audited."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import Rule
from auditor.context import Context
from auditor.findings import Issue, Location, Severity

RULE = Rule(
    id="CA001",
    name="parse-error",
    title="File is not valid YAML/JSON, is not UTF-8, or is an unrendered template",
    severity=Severity.ERROR,
    rationale=(
        "A manifest that does not parse is rejected by `kubectl apply` and `calicoctl`, and none of its "
        "policies are checked by this tool either. Duplicate keys are included: YAML forbids them and "
        "tools disagree on which value wins, so what you review is not what gets applied. Template files "
        "(Helm `{{ }}`) are not manifests until they are rendered."
    ),
    remediation=(
        "Fix the syntax at the reported line and column. Save files as UTF-8. Remove duplicate keys. "
        "Render templates before auditing them, e.g. `helm template RELEASE CHART | audit -`; with helm or "
        "kustomize (or kubectl) on PATH, charts and kustomizations are rendered and audited for you, and a "
        "chart or kustomization that fails to render is reported here, at its `Chart.yaml` or kustomization file."
    ),
    references=("https://yaml.org/spec/1.2.2/#mapping", "https://helm.sh/docs/helm/helm_template/"),
    tags=("syntax",),
)

# Filesystem conditions that are worth a word but are not broken manifests.
_SEVERITY = {
    "symlink": Severity.WARNING,
    "helm-templates": Severity.NOTE,
    "render-unavailable": Severity.NOTE,
    "tag": Severity.WARNING,
}


def check(ctx: Context) -> Iterator[Issue]:
    for problem in ctx.load.problems:
        message, fix = problem.message, ""
        if problem.hint.startswith("`"):  # a reason (`render = false` in the configuration), not a remedy
            message += f"; {problem.hint}"
        elif problem.hint:
            fix = problem.hint[0].upper() + problem.hint[1:].rstrip(".") + "."
        yield Issue(
            message=message,
            fix=fix,
            at=Location(problem.file.path, problem.span),
            identity=problem.file.path,
            key=problem.code,
            severity=_SEVERITY.get(problem.code),
        )
