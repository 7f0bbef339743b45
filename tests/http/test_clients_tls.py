"""The KB client over TLS with a self-signed certificate: verified by default, trusted through a CA file, or
(explicitly) unverified; plus the small env helpers for the outbox and the enhancement budget."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from tower_sentinel.reliability.clients import KBClient
from tower_sentinel.reliability.enhance import budget_from_env
from tower_sentinel.reliability.errors import KBError
from tower_sentinel.reliability.outbox import OutboxConfig
from tower_sentinel.reliability.retry import Retrying, RetryPolicy
from tower_sentinel.tests.fakes.kb import FakeKB


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def tls_kb(self_signed):
    cert, key = self_signed
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    async with FakeKB(ssl_context=ctx) as fake:
        fake.add_article("Yuki", "silver hair", "character")
        yield fake


async def test_self_signed_kb_is_refused_by_default(tls_kb):
    """Without a CA file, certificate verification fails: a KBError, not a silent insecure connection."""
    client = KBClient(tls_kb.base_url, timeout_s=2, retry=Retrying(RetryPolicy(attempts=1)))
    with pytest.raises(KBError):
        await client.list_articles()
    await client.close()


async def test_ca_file_trusts_the_self_signed_kb(tls_kb, self_signed):
    """TOWER_KB_CA_FILE pointing at the KB's certificate makes the verified connection work."""
    client = KBClient.from_env({"TOWER_KB_URL": tls_kb.base_url, "TOWER_KB_CA_FILE": str(self_signed[0])})
    assert client.config_error is None
    assert [a["title"] for a in await client.list_articles()] == ["Yuki"]
    await client.close()


async def test_skip_verify_is_explicit(tls_kb):
    """TOWER_KB_TLS_VERIFY=0 connects without verification."""
    client = KBClient.from_env({"TOWER_KB_URL": tls_kb.base_url, "TOWER_KB_TLS_VERIFY": "0"})
    assert len(await client.list_articles()) == 1
    await client.close()


def test_env_helpers():
    """TOWER_OUTBOX_MAX_AGE_H and TOWER_ENHANCE_BUDGET_S are read; nonsense falls back to the defaults."""
    assert OutboxConfig.from_env({"TOWER_OUTBOX_MAX_AGE_H": "48"}).max_age_s == 48 * 3600
    assert OutboxConfig.from_env({"TOWER_OUTBOX_MAX_AGE_H": "x"}).max_age_s == 24 * 3600
    assert budget_from_env({"TOWER_ENHANCE_BUDGET_S": "8"}) == 8.0
    assert budget_from_env({"TOWER_ENHANCE_BUDGET_S": "-1"}) == 15.0
