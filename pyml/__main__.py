"""``python -m pyml``: the same as the ``pyml`` command."""

import sys

from .cli import main

sys.exit(main())
