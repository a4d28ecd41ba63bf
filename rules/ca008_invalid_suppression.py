"""CA008 invalid-suppression: a suppression that matches nothing, names an unknown rule, or gives no reason."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import Rule
from auditor.context import Context
from auditor.findings import Issue, Severity

RULE = Rule(
    id="CA008",
    name="invalid-suppression",
    title="A suppression that matches no finding, names an unknown rule, or gives no reason",
    severity=Severity.WARNING,
    rationale=(
        "A suppression is a reviewed decision to accept a risk. One that no longer matches anything hides the "
        "next problem that appears on that line; one with a misspelt rule ID suppresses nothing while looking "
        "like it does; one without a reason cannot be reviewed."
    ),
    remediation=(
        "Remove unused suppressions, fix the rule ID (see `audit --list-rules`), and write the reason after "
        "the rule list: `# calico-audit: ignore[CA206] nodePorts are closed at the load balancer`."
    ),
    tags=("hygiene",),
    late=True,
)


def check(ctx: Context) -> Iterator[Issue]:
    for problem in ctx.suppression_problems:
        yield Issue(
            message=problem.message,
            at=problem.location,
            identity=problem.location.path,
            key=problem.key,
            fix=problem.fix,
        )
