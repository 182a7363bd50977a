"""``python -m proxy_async.workers``: the same as ``proxy-async workers``."""

import sys

from .jobs import main

sys.exit(main())
