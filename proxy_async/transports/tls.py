"""TLS trust: which CAs verify the servers' certificates, and loading a CA bundle.

Networks that only let traffic out through a forward proxy often inspect TLS and
re-sign it with a corporate CA, which the client must then trust. The rules follow
requests (what twilio-python uses) and curl, so the same environment works for all
of them (the proxy half is :mod:`proxy_async.transports.egress`).

**CA trust**, in this order: ``ssl_context=`` (an :class:`ssl.SSLContext` used as it
is); ``ca_bundle=`` (a PEM file, a directory of hashed certificates, or a pipe such
as ``<(vault read ...)``, read once, bounded in size and time); with
``trust_env``, ``SSL_CERT_FILE`` (OpenSSL's own variable), then
``REQUESTS_CA_BUNDLE`` (what twilio-python users behind such a proxy already set);
otherwise the system's default trust. Only the first source found is used:
with ``SSL_CERT_FILE`` set, ``REQUESTS_CA_BUNDLE`` is not read, which is why a
:class:`~proxy_async.errors.CertificateVerifyError` names the source it trusted. A
bundle *replaces* the default trust, as it does in OpenSSL, requests and curl; to add
a CA to it, pass an ``ssl_context`` made with :func:`ssl.create_default_context` and
``load_verify_locations``. A bundle that
is missing, unreadable, holds no certificate or is neither a file, a directory nor a
pipe (a socket, a device) is an :class:`~proxy_async.errors.InvalidParameterError`
naming the option or variable and the path, raised when the client is built, not a
TLS failure at the first request; no bundle is waited for without bound (a FIFO no one
writes to is refused at once).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import select
import ssl
import stat
import time
from collections.abc import Mapping

from ..errors import InvalidParameterError


def tls_trust(
    ssl_context: ssl.SSLContext | None,
    ca_bundle: str | os.PathLike[str] | None,
    *,
    trust_env: bool,
    environ: Mapping[str, str] | None,
) -> tuple[ssl.SSLContext | None, str]:
    """The TLS context to verify servers with, and the CAs it trusts as errors name them.

    The second item is ``"the CAs of ssl_context="``, ``"the CAs of ca_bundle=PATH"``,
    ``"the CAs of SSL_CERT_FILE=PATH"`` (adding the ``REQUESTS_CA_BUNDLE`` it wins
    over, if set), ``"the CAs of REQUESTS_CA_BUNDLE=PATH"`` or ``"the system's default
    CAs"``. Paths are
    shown; no credential is ever in them. None means aiohttp's default (the system's CAs). Raises
    :class:`InvalidParameterError` for a wrong ``ssl_context`` type, both options
    given, or a CA bundle that cannot be loaded (naming the option or variable and
    the path).
    """
    if ssl_context is not None:
        if ca_bundle is not None:
            raise InvalidParameterError("ca_bundle", "either ssl_context or ca_bundle, not both")
        if not isinstance(ssl_context, ssl.SSLContext):
            raise InvalidParameterError("ssl_context", "an ssl.SSLContext", type(ssl_context))
        return ssl_context, "the CAs of ssl_context="
    if ca_bundle is not None:
        context = load_ca_bundle(ca_bundle, "ca_bundle")
        return context, f"the CAs of ca_bundle={os.fspath(ca_bundle)}"
    if trust_env:
        env = os.environ if environ is None else environ
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
            path = env.get(name)
            if path:
                source = f"the CAs of {name}={path}"
                ignored = env.get("REQUESTS_CA_BUNDLE")
                if name == "SSL_CERT_FILE" and ignored:
                    source += f", which wins over REQUESTS_CA_BUNDLE={ignored}"
                return load_ca_bundle(path, name), source
    return None, "the system's default CAs"


PIPE_BUNDLE_MAX_BYTES = 8 * 1024 * 1024
"""The most a CA bundle read from a pipe may hold (a system bundle is about 0.2 MiB)."""

PIPE_BUNDLE_TIMEOUT = 10.0
"""Seconds a pipe may take to deliver its whole CA bundle (its writer closing it)."""

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----"
)
"""A PEM certificate block (RFC 7468); text between blocks (comments) is skipped."""

_NOT_A_FILE = "not a regular file, directory or pipe; write the bundle to a file"


def load_ca_bundle(path: str | os.PathLike[str], parameter: str) -> ssl.SSLContext:
    """A verifying client context that trusts exactly the CAs at ``path``.

    ``path`` is a PEM file, a directory of certificates named by their subject hash
    (``c_rehash``), or a pipe (``--ca-bundle <(vault read ...)``, a FIFO) that delivers
    the PEM certificates and then closes. Contexts of files and directories are shared
    between clients while they are unchanged (loading a system-size bundle takes tens
    of milliseconds); a pipe is read once, when the client is built.

    Nothing here waits without bound: files are opened non-blocking, so a FIFO with no
    writer reads as empty instead of blocking in ``open()``, and a pipe must deliver at
    most :data:`PIPE_BUNDLE_MAX_BYTES` within :data:`PIPE_BUNDLE_TIMEOUT` seconds.

    Raises :class:`InvalidParameterError` naming ``parameter`` and the path when it
    does not exist, cannot be read, holds no certificate, is another kind of file (a
    socket, a device), or cannot be a path at all (a NUL, a lone surrogate).
    """
    try:
        name = os.fspath(path)
    except TypeError:
        raise InvalidParameterError(parameter, "a path to a PEM CA bundle", type(path)) from None
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(parameter, "a path to a PEM CA bundle", name)
    try:
        info = os.stat(name)
    except ValueError:  # a NUL, or a character the file system encoding lacks
        raise InvalidParameterError(
            parameter, "a path to a PEM CA bundle (no NUL, encodable file name)", name
        ) from None
    except OSError as error:
        raise _bundle_error(parameter, name, error.strerror or type(error).__name__) from None
    try:
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            return _load_ca_bundle(os.path.abspath(name), info.st_mtime_ns, info.st_size)
        if stat.S_ISFIFO(info.st_mode):
            return ssl.create_default_context(cadata=_read_pipe(name))
    except ssl.SSLError as error:  # an OSError too: first
        reason = f"no certificate could be read from it: {error.reason or error}"
        raise _bundle_error(parameter, name, reason) from None
    except OSError as error:
        raise _bundle_error(parameter, name, error.strerror or str(error)) from None
    raise _bundle_error(parameter, name, _NOT_A_FILE)


@functools.lru_cache(maxsize=16)
def _load_ca_bundle(path: str, mtime_ns: int, size: int) -> ssl.SSLContext:
    # mtime and size are in the key so that a replaced bundle is read again.
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    # Opened here first, non-blocking, so that "permission denied" is said before
    # OpenSSL says something vaguer, and so that a file swapped for a FIFO since the
    # stat() cannot block.
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, _NOT_A_FILE)
    finally:
        os.close(handle)
    return ssl.create_default_context(cafile=path)


def _read_pipe(path: str) -> str:
    """The PEM certificate blocks a pipe at ``path`` delivers before it closes.

    Raises :class:`OSError` when the pipe gives nothing (a FIFO with no writer), more
    than :data:`PIPE_BUNDLE_MAX_BYTES`, no end within :data:`PIPE_BUNDLE_TIMEOUT`
    seconds, or no certificate block.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISFIFO(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, _NOT_A_FILE)
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        deadline = time.monotonic() + PIPE_BUNDLE_TIMEOUT
        data = bytearray()
        while True:
            try:
                chunk = os.read(handle, 65536)
            except BlockingIOError:  # a writer, nothing written yet
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OSError(
                        errno.ETIMEDOUT,
                        f"the pipe did not deliver the bundle within {PIPE_BUNDLE_TIMEOUT:g} s",
                    ) from None
                poller.poll(left * 1000)
                continue
            if not chunk:  # end of data: every writer closed, or none ever opened it
                break
            data += chunk
            if len(data) > PIPE_BUNDLE_MAX_BYTES:
                raise OSError(errno.EFBIG, f"the pipe gave more than {PIPE_BUNDLE_MAX_BYTES} bytes")
    finally:
        os.close(handle)
    if not data:
        raise OSError(errno.ENODATA, "the pipe gave nothing to read (no writer?)")
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise OSError(errno.EINVAL, "no PEM certificate block in what the pipe gave")
    return "\n".join(block.decode("ascii") for block in blocks)


def _bundle_error(parameter: str, path: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(
        parameter, f"a readable PEM file of CA certificates, a directory or a pipe ({reason})", path
    )
