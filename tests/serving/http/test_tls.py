"""TLS: the self-signed certificate of ``xtalk-server --tls-self-signed`` (generated once,
reused, replaced when it no longer fits) and a real server over https/wss whose clients pin
that certificate."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography import x509
from paths import ROOT, TONE_CONFIG
from server_process import ServerProcess, free_port

from xtalk.serving.http import tls
from xtalk.serving.http.auth import lan_address
from xtalk.store import sqlite_url

TIMEOUT = 15.0
FINGERPRINT_RE = re.compile(r"fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")


def san_of(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ({str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
            | set(san.get_values_for_type(x509.DNSName)))


# --------------------------------------------------------------------------- certificate
def test_the_certificate_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = tls.ensure_self_signed(tmp_path, hosts=("192.168.1.23",))
    assert first.created
    assert san_of(first.cert_path) == {"localhost", "127.0.0.1", "::1", "192.168.1.23"}
    assert stat.S_IMODE(os.stat(first.key_path).st_mode) == 0o600
    der = ssl.PEM_cert_to_DER_cert(first.cert_path.read_text())
    assert first.fingerprint == hashlib.sha256(der).digest().hex(":").upper()

    again = tls.ensure_self_signed(tmp_path, hosts=("192.168.1.23",))
    assert not again.created and again.fingerprint == first.fingerprint
    # A subset of the hosts is still covered: no new certificate.
    assert not tls.ensure_self_signed(tmp_path).created


def test_the_certificate_is_replaced_when_it_no_longer_fits(tmp_path: Path) -> None:
    first = tls.ensure_self_signed(tmp_path, hosts=("192.168.1.23",))
    moved = tls.ensure_self_signed(tmp_path, hosts=("10.0.0.7",))  # the LAN address changed
    assert moved.created and moved.fingerprint != first.fingerprint
    assert "10.0.0.7" in san_of(moved.cert_path)

    moved.key_path.write_text("not a key")
    broken = tls.ensure_self_signed(tmp_path, hosts=("10.0.0.7",))
    assert broken.created and broken.fingerprint != moved.fingerprint


def test_a_certificate_close_to_expiry_is_renewed(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tls, "VALIDITY", dt.timedelta(days=10))  # < RENEW_BEFORE
    first = tls.ensure_self_signed(tmp_path)
    monkeypatch.undo()
    renewed = tls.ensure_self_signed(tmp_path)
    assert renewed.created and renewed.fingerprint != first.fingerprint
    cert = x509.load_pem_x509_certificate(renewed.cert_path.read_bytes())
    assert cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)


def test_lan_address_is_a_real_interface_address() -> None:
    address = lan_address()
    if address is not None:
        assert not ipaddress.ip_address(address).is_loopback


# --------------------------------------------------------------------------- a real server
class TLSServer(ServerProcess):
    """``xtalk-server --tls-self-signed`` (listening when returned); ``fingerprint`` as
    printed."""

    def __init__(self, tmp_path: Path, tls_dir: Path) -> None:
        port = free_port()
        super().__init__(sqlite_url(tmp_path / "tls.db"), tmp_path / f"server-{port}.log",
                         "--tls-self-signed", "--tls-dir", str(tls_dir), port=port)
        self.wait_listening()
        match = FINGERPRINT_RE.search(self.output())
        assert match, self.output()
        self.fingerprint = match.group(1)


@pytest.fixture
def servers():
    started: list[TLSServer] = []
    yield started
    for server in started:
        server.stop()


def pinned_context(cert_path: Path) -> ssl.SSLContext:
    """Trust exactly this certificate (and check the host name against its SAN)."""
    context = ssl.create_default_context(cafile=str(cert_path))
    context.check_hostname = True
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default
    return context


async def test_the_server_speaks_https_and_wss_with_its_pinned_certificate(
        tmp_path: Path, servers: list[TLSServer]) -> None:
    tls_dir = tmp_path / "tls"
    server = TLSServer(tmp_path, tls_dir)
    servers.append(server)
    assert "generated self-signed TLS certificate" in server.output()
    cert_path = tls_dir / tls.CERT_FILENAME
    context = pinned_context(cert_path)

    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{server.port}", verify=context,
                                 timeout=TIMEOUT) as http:
        response = await http.get("/api/sessions")
        assert response.status_code == 200, response.text
        page = await http.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()

    async with websockets.connect(f"wss://localhost:{server.port}/ws", ssl=context,
                                  open_timeout=10, ping_interval=None, max_size=None) as ws:
        # The certificate the server presents is the one whose fingerprint it printed.
        der = ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert hashlib.sha256(der).digest().hex(":").upper() == server.fingerprint
        info = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert info["action"] == "session_info"
        await ws.send(json.dumps({"action": "text_input", "data": {"text": "over tls"}}))
        replies: list[str] = []
        audio_bytes = 0
        deadline = time.monotonic() + TIMEOUT
        while "tts_finished" not in replies:
            assert time.monotonic() < deadline, replies
            message = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if isinstance(message, bytes):
                audio_bytes += len(message)
                continue
            obj = json.loads(message)
            replies.append(obj["action"])
            if obj["action"] == "finish_resp":
                assert obj["data"]["text"] == "I heard you say: over tls."
        assert "finish_resp" in replies and audio_bytes > 0

    # A client that does not trust the certificate is refused by TLS itself.
    with pytest.raises(ssl.SSLCertVerificationError):
        async with websockets.connect(f"wss://127.0.0.1:{server.port}/ws", open_timeout=10,
                                      ssl=ssl.create_default_context()):
            pass

    # The command-line client over wss, trusting the certificate file.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xtalk.client.cli", f"wss://localhost:{server.port}/ws",
        "--cafile", str(cert_path), "--text", "hello", "--speed", "4",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (out + err).decode(errors="replace")
    assert b"Assistant: Hello! How can I help you?" in out

    # Restarted, the server presents the same certificate.
    server.stop()
    again = TLSServer(tmp_path, tls_dir)
    servers.append(again)
    assert again.fingerprint == server.fingerprint
    assert "using self-signed TLS certificate" in again.output()


def test_tls_flags_exclude_each_other(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--config", str(TONE_CONFIG),
         "--database", sqlite_url(tmp_path / "x.db"), "--tls-self-signed",
         "--tls-cert", "a.pem", "--tls-key", "b.pem"],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert "exclude each other" in result.stderr
