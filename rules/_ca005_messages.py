"""CA005's wording: why a port value is rejected, and what to write instead."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from auditor.calico_validation import port_name_problem
from auditor.ports import MAX_PORT, MIN_PORT, to_int

_DASH_RANGE = re.compile(r"^\s*([0-9]+)\s*-\s*([0-9]+)\s*$")
_COLON_RANGE = re.compile(r"^([0-9]+):([0-9]+)$")

IN_RANGE = f"Use a port within {MIN_PORT}-{MAX_PORT}."
PORT_NAME_FIX = (
    "Use a valid port name (lower-case letters, digits and single `-`, at most 15 characters, at least one "
    "letter) or a number."
)


class Text(NamedTuple):
    message: str  # what is wrong and why
    fix: str  # what to write instead


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number_message(value: int, what: str = "port") -> str:
    return f"{what} `{value}` is outside {MIN_PORT}-{MAX_PORT}: it is not a port number"


def out_of_range(value: int, rejected: str, what: str = "port") -> Text:
    """``value`` is no port number; ``rejected`` says who refuses it (``Kubernetes rejects the Service``)."""
    return Text(f"{number_message(value, what)}; {rejected}", IN_RANGE)


def calico_port_text(raw: int | str) -> Text:
    """Why Calico rejects one entry of ``ports``/``notPorts`` (or ``kubeNodePortRanges``) and how to write it."""
    if isinstance(raw, int):
        fix = f"Use a port within {MIN_PORT}-{MAX_PORT}, or omit `ports` to match every port."
        return Text(number_message(raw) + "; Calico rejects the rule", fix)
    text = raw.strip()
    if text.isascii() and text.isdigit():
        return out_of_range(to_int(text), "Calico rejects the rule")
    dash = _DASH_RANGE.match(text)
    if dash:
        return Text(
            f"`{raw}` uses a dash: Calico reads it as a port name and rejects it (names need a letter)",
            f'Write the range with a colon: `"{dash.group(1)}:{dash.group(2)}"`.',
        )
    colon = _COLON_RANGE.match(text)
    if colon:
        lo, hi = to_int(colon.group(1)), to_int(colon.group(2))
        if lo > hi:
            return Text(f"port range `{raw}` is reversed: Calico requires `min:max`", f'Write `"{hi}:{lo}"`.')
        return Text(
            f"port range `{raw}` must lie within {MIN_PORT}-{MAX_PORT}: Calico rejects it",
            f'Write `"{max(lo, MIN_PORT)}:{min(hi, MAX_PORT)}"`.',
        )
    why = port_name_problem(text) or "is not a valid port name"
    return Text(
        f'`{raw}` is neither a number, a `"min:max"` range nor a valid port name (it {why}): Calico rejects the rule',
        "Use the container port's name or its number.",
    )


def k8s_port_name_text(raw: str, what: str) -> Text | None:
    """Why Kubernetes rejects a string ``port``/``targetPort`` (an IANA service name), or None."""
    if raw.strip().isascii() and raw.strip().isdigit():
        return Text(
            f'{what} `"{raw}"` is a quoted number: Kubernetes reads it as a port name, and names need a letter',
            f"Write `{raw.strip()}` without quotes.",
        )
    why = port_name_problem(raw)
    if why:
        return Text(f"{what} `{raw}` is not a valid port name (it {why}): Kubernetes rejects the object", PORT_NAME_FIX)
    return None
