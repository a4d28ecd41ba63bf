"""``python -m auditor``: the same as the ``audit`` command."""

from auditor.cli import entry

entry()
