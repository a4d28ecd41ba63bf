"""The one resource model (split into modules in the next commit)."""

from auditor.model.resources import *  # noqa: F403
from auditor.model.resources import _LabelIndex  # noqa: F401
