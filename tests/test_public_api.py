"""The public API: every name each package exports resolves, and imports stand alone."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import proxy_async

PACKAGES = sorted(
    info.name for info in pkgutil.walk_packages(proxy_async.__path__, "proxy_async.") if info.ispkg
)


@pytest.mark.parametrize("package", ["proxy_async", *PACKAGES])
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported, f"{package} declares no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{package}.__all__ names what it does not define"


def test_the_readme_imports_work() -> None:
    from proxy_async import (  # noqa: F401
        ClientConfig,
        ProxyClient,
        discover_sessions,
        export,
        stream_interactions,
        stream_pages,
    )
    from proxy_async.testing import FakeProxyServer, MockTransport, json_response  # noqa: F401


def test_every_module_imports_on_its_own() -> None:
    # One interpreter for all (a fresh one each would take seconds), proxy_async cleared
    # from sys.modules before each, so no import cycle hides behind an earlier import.
    names = sorted(
        info.name for info in pkgutil.walk_packages(proxy_async.__path__, "proxy_async.")
    )
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('proxy_async')]:\n"
        "        del sys.modules[loaded]\n"
        "    if name.endswith('__main__'):\n"
        "        continue\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and module names
        [sys.executable, "-W", "error", "-c", script, *names],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
