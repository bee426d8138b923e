"""``python -m lossbook``: see :mod:`lossbook.cli`."""

import sys

from lossbook.cli import main

sys.exit(main())
