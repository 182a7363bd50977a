"""``python -m proxy_async.testing``: run the fake Twilio Proxy server."""

import sys

from ._cli import main

sys.exit(main())
