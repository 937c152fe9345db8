"""Mutual TLS like IoT Core: a client certificate from the test CA is required."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from awscrt import io, mqtt5

from tests.devtools.mqtt_peers import WAIT_S, CrtClient, RawClient, connect_packet
from wardlink.devtools.mqtt_broker import EmbeddedBroker
from wardlink.devtools.pki import DevPki, make_dev_pki, mutual_tls_server_context

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return make_dev_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def tls_broker(pki: DevPki) -> AsyncIterator[EmbeddedBroker]:
    context = mutual_tls_server_context(pki.ca_cert, pki.server_cert, pki.server_key)
    broker = EmbeddedBroker()
    await broker.start(ssl_context=context)
    yield broker
    await broker.stop()


def crt_tls_context(pki: DevPki) -> io.ClientTlsContext:
    options = io.TlsContextOptions.create_client_with_mtls_from_path(
        str(pki.client_cert), str(pki.client_key)
    )
    options.override_default_trust_store_from_path(None, str(pki.ca_cert))
    return io.ClientTlsContext(options)


async def test_awscrt_client_with_certificate_publishes(
    pki: DevPki, tls_broker: EmbeddedBroker
) -> None:
    client = CrtClient("localhost", tls_broker.port, "tls-gw", tls_ctx=crt_tls_context(pki))
    try:
        await client.connect()
        result = await client.publish("wardlink/v1/tls-gw/health", b"{}", qos=1)
        assert result.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
    finally:
        await client.stop()
    assert tls_broker.stats.messages == 1


async def assert_refused(broker: EmbeddedBroker, context: ssl.SSLContext | None) -> None:
    """No CONNACK ever comes back: the handshake or the first read fails."""
    try:
        client = await RawClient.open(broker.port, ssl=context, server_hostname=None)
        await client.send(connect_packet("intruder"))
        assert await client.read_eof() == b""
    except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError):
        pass


async def test_tls_client_without_certificate_is_refused(
    pki: DevPki, tls_broker: EmbeddedBroker
) -> None:
    context = ssl.create_default_context(cafile=pki.ca_cert)
    context.check_hostname = False
    await assert_refused(tls_broker, context)
    assert tls_broker.stats.connections == 0


async def test_plain_tcp_is_refused_and_broker_keeps_serving(
    pki: DevPki, tls_broker: EmbeddedBroker
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", tls_broker.port)
    writer.write(connect_packet("plain"))
    await writer.drain()
    leftover = await asyncio.wait_for(reader.read(), WAIT_S)
    assert not leftover.startswith(b"\x20")  # never a CONNACK
    writer.close()

    context = ssl.create_default_context(cafile=pki.ca_cert)
    context.load_cert_chain(pki.client_cert, pki.client_key)
    client = await RawClient.open(tls_broker.port, ssl=context, server_hostname="localhost")
    await client.connect("after-plain")
    await client.close()


def test_pki_files_exist(pki: DevPki) -> None:
    for path in (pki.ca_cert, pki.server_cert, pki.server_key, pki.client_cert, pki.client_key):
        assert Path(path).read_bytes().startswith(b"-----BEGIN")
