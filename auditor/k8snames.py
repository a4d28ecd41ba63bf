"""Kubernetes name syntax (apimachinery's validation): qualified names (label keys) and label values.

The checks say *what* is wrong as a :class:`NameFault`; each caller words it for its own message (the
Calico validator's findings and the label-selector errors read differently).
"""

from __future__ import annotations

import enum
import re

MAX_SUBDOMAIN = 253
MAX_LABEL = 63

# Go's regexp has no "$ before a final newline": these match the whole text (fullmatch).
_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_PART_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


class NameFault(enum.Enum):
    SLASHES = "more than one '/'"
    EMPTY_PREFIX = "empty prefix"
    LONG_PREFIX = "prefix too long"
    BAD_PREFIX = "prefix not a DNS subdomain"
    EMPTY_NAME = "empty name part"
    LONG_NAME = "name part too long"
    BAD_NAME = "name part with other characters"


def is_subdomain(text: str) -> bool:
    """A DNS subdomain (RFC 1123): lower-case labels joined by dots, at most 253 characters."""
    return len(text) <= MAX_SUBDOMAIN and _SUBDOMAIN_RE.fullmatch(text) is not None


def is_qualified_part(text: str) -> bool:
    """Letters, digits, '-', '_' and '.', starting and ending with a letter or digit."""
    return _QUALIFIED_PART_RE.fullmatch(text) is not None


def qualified_name_fault(key: str) -> NameFault | None:
    """What keeps ``key`` from being a Kubernetes qualified name (``[prefix/]name``), or None."""
    parts = key.split("/")
    if len(parts) > 2:
        return NameFault.SLASHES
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return NameFault.EMPTY_PREFIX
        if len(prefix) > MAX_SUBDOMAIN:
            return NameFault.LONG_PREFIX
        if _SUBDOMAIN_RE.fullmatch(prefix) is None:
            return NameFault.BAD_PREFIX
    if not name:
        return NameFault.EMPTY_NAME
    if len(name) > MAX_LABEL:
        return NameFault.LONG_NAME
    if not is_qualified_part(name):
        return NameFault.BAD_NAME
    return None


def label_value_fault(value: str) -> NameFault | None:
    """What keeps ``value`` from being a label value (empty, or a qualified name part), or None."""
    if len(value) > MAX_LABEL:
        return NameFault.LONG_NAME
    if value and not is_qualified_part(value):
        return NameFault.BAD_NAME
    return None
