"""CA003 invalid-selector: a selector Calico would reject, with the column of the problem."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Rule, Severity, in_string
from auditor.model import SelectorRef, parse_selector_at

# Selectors outside policies: which pools apply to which nodes/namespaces, which BGP peers.
_OTHER_SELECTORS = {"IPPool": ("nodeSelector", "namespaceSelector"), "BGPPeer": ("nodeSelector", "peerSelector")}

RULE = Rule(
    id="CA003",
    name="invalid-selector",
    title="A selector Calico would reject",
    severity=Severity.ERROR,
    rationale=(
        "Calico parses every selector when a policy is created: one that does not parse makes the whole "
        "policy fail to apply, so none of its rules protect anything. The grammar is strict: values must be "
        "quoted (`k8s-role == 'node'`), `=`, `&` and `|` alone are errors, `has (x)` with a space is not a "
        "function call, and a line break between tokens (a YAML `|` block) is invalid."
    ),
    remediation=(
        "Fix the selector at the column shown: quote values, use `==`/`!=`, `&&`/`||`, `in {'a', 'b'}`, "
        "`has(key)`. Quote the whole YAML value when it starts with `!` (a YAML tag otherwise)."
    ),
    references=("https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors",),
    tags=("syntax",),
)


def _selector_refs(ctx: Context) -> Iterator[tuple[object, SelectorRef]]:
    for policy in ctx.model.policies:
        for ref in (policy.selector, policy.namespace_selector, policy.service_account_selector):
            if ref is not None:
                yield policy, ref
        for rule in policy.rules:
            for entity in (rule.source, rule.destination):
                for ref in entity.selectors:
                    yield policy, ref
    for resource in ctx.model.resources:
        if not resource.is_calico or resource.kind not in _OTHER_SELECTORS:
            continue
        for field in _OTHER_SELECTORS[resource.kind]:
            ref = parse_selector_at(("spec", field), resource.spec.get(field))
            if ref is not None:
                yield resource, ref


def check(ctx: Context) -> Iterator[Issue]:
    for resource, ref in _selector_refs(ctx):
        if ref.error is None or not ctx.in_focus(resource):
            continue
        pointer = resource.ptr_at(ref.path)  # type: ignore[attr-defined]
        at = in_string(pointer, ref.error.offset) if ref.is_yaml_string else pointer
        # The parser says what to write instead after "; use" ("a single '=' is not an operator; use '=='").
        what, use, instead = ref.error.message.partition("; use ")
        yield Issue(
            message=f"invalid selector `{ref.text}`: {what}; Calico rejects the whole resource",
            fix=f"Use {instead} instead." if use else "",
            at=at,
            identity=resource.identity,  # type: ignore[attr-defined]
        )
    for policy in ctx.focused(ctx.model.policies):
        for path, error in policy.label_selector_errors:
            yield Issue(
                message=f"invalid label selector: {error}; Kubernetes rejects the NetworkPolicy",
                at=policy.ptr_at(path),
                identity=policy.identity,
            )
