"""``python -m proxy_async.testing``: ``proxy-async fake-server`` (same options)."""

import sys

from ..cli import main

sys.exit(main(["fake-server", *sys.argv[1:]]))
