"""``python -m proxy_async``: the ``proxy-async`` command line (see :mod:`proxy_async.cli`)."""

import sys

from .cli import main

sys.exit(main())
