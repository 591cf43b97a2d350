"""Adapter tests run on both anyio backends, and every one can check it leaked nothing."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import AsyncIterator

import anyio
import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fail the test if it leaves a file descriptor or a task behind.

    The baseline is taken inside the running event loop, so the loop's own descriptors (epoll,
    self-pipe) are part of it.  asyncio closes a transport's socket one loop iteration after
    ``close()``, hence the short settling wait before judging.
    """
    fds_before = open_fd_count()
    tasks_before = len(anyio.get_running_tasks())
    yield
    with anyio.move_on_after(2.0):
        # Polling the OS's descriptor table: there is no event to wait on.
        while open_fd_count() > fds_before or len(anyio.get_running_tasks()) > tasks_before:  # noqa: ASYNC110
            await anyio.sleep(0.01)
    assert open_fd_count() <= fds_before, "a socket (file descriptor) was left open"
    assert len(anyio.get_running_tasks()) <= tasks_before, "a task was left running"


@pytest.fixture(scope="session")
def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for 127.0.0.1, and a client trusting it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
            ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.NamedTemporaryFile() as pem:  # ssl loads chains from files only
        pem.write(cert_pem + key_pem)
        pem.flush()
        server_ctx.load_cert_chain(pem.name)
    return server_ctx, ssl.create_default_context(cadata=cert_pem.decode())
