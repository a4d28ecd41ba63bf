"""``python -m auditor``: the same as the ``audit`` command."""

import sys

from auditor.cli import main

sys.exit(main())
