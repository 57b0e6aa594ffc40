"""``python -m reasoners.cli``: the ``reasoners`` command."""

import sys

from . import main

sys.exit(main())
