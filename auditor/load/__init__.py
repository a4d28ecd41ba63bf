"""The one loader (split into modules in the next commit)."""

from auditor.load.compose import *  # noqa: F403
from auditor.load.compose import _BOOL_WORDS, _LINE_BREAK  # noqa: F401
