"""deploy/nginx.conf on loopback: two xtalk-server replicas (tone-code models) sharing one
database (PostgreSQL when it can start here, else one SQLite file), one nginx doing TLS
and sticky WebSocket sessions.

The shipped config is used as is except for the marked addresses, ports, certificate and
file locations. Login is on (a user exists): the token issued through the proxy by one
replica is accepted by the other (both read the shared database).

Skipped (with the reason) only when nginx is not installed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from paths import ROOT
from postgres_cluster import PostgresCluster, PostgresUnavailable, start_postgres
from server_process import ServerProcess, free_port, receive_until, speak

from xtalk.serving.http.tls import ensure_self_signed
from xtalk.store import sqlite_url

REPO = ROOT
NGINX_CONF = REPO / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
PASSWORD = "alice-pass-1234"

pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian package "
                                             "`nginx`); the reverse-proxy deployment test "
                                             "needs it"),
    pytest.mark.timeout(300),  # three processes and real turns on a shared, busy machine
]


def render_config(root: Path, replicas: list[int], https_port: int, http_port: int,
                  cert: Path, key: Path) -> str:
    """deploy/nginx.conf with loopback addresses and files under ``root``; every rewrite
    must apply exactly as often as expected, so a reshaped config fails loudly here."""
    conf = NGINX_CONF.read_text()
    servers = iter(replicas)

    def sub(pattern: str, replacement, count: int) -> None:
        nonlocal conf
        conf, n = re.subn(pattern, replacement, conf, flags=re.MULTILINE)
        assert n == count, f"{pattern!r} matched {n} times in deploy/nginx.conf"

    sub(r"^user www-data;", "user root;" if os.geteuid() == 0 else "", 1)
    sub(r"^worker_processes auto;", "worker_processes 1;", 1)
    sub(r"^pid /run/nginx\.pid;", f"pid {root}/nginx.pid;", 1)
    sub(r"^error_log \S+ warn;", f"error_log {root}/error.log info;", 1)
    sub(r"access_log \S+ xtalk;", f"access_log {root}/access.log xtalk;", 1)
    sub(r"server 10\.0\.0\.\d+:8765", lambda _m: f"server 127.0.0.1:{next(servers)}", 2)
    sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    sub(r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", 1)
    sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", 1)
    sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", 1)
    temp = "".join(f"    {kind}_temp_path {root}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    sub(r"^http \{\n", lambda _m: "http {\n" + temp, 1)
    return conf


@dataclass
class Deployment:
    replicas: list[ServerProcess]
    base: str          # https://127.0.0.1:PORT (nginx)
    http_base: str     # http://127.0.0.1:PORT (nginx, redirects)
    ssl: ssl.SSLContext
    token: str
    access_log: Path
    database_kind: str

    @property
    def ws(self) -> str:
        return self.base.replace("https://", "wss://") + "/ws"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.ssl, timeout=15)

    def replica_with_session(self) -> int:
        """Which replica runs the (single) live session, from its own /metrics."""
        running = []
        for i, replica in enumerate(self.replicas):
            if replica.proc.poll() is not None:
                continue
            response = httpx.get(f"{replica.base}/metrics", timeout=10,
                                 headers={"Authorization": f"Bearer {self.token}"})
            assert response.status_code == 200, response.text
            match = re.search(r"^xtalk_sessions_active (\S+)$", response.text, re.MULTILINE)
            assert match
            if float(match.group(1)) >= 1:
                running.append(i)
        assert len(running) == 1, running
        return running[0]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster | None]:
    try:
        cluster = start_postgres()
    except PostgresUnavailable as exc:
        print(f"PostgreSQL unavailable ({exc}); the replicas share one SQLite file")
        yield None
        return
    yield cluster
    cluster.stop()


@pytest.fixture
def database(tmp_path: Path, postgres: PostgresCluster | None) -> tuple[str, str]:
    """The shared database's URL and kind: a fresh PostgreSQL database, else SQLite."""
    if postgres is not None:
        return postgres.create_database("xtalk_deploy"), "postgresql"
    return sqlite_url(tmp_path / "shared.db"), "sqlite"


@pytest.fixture
def deployment(tmp_path: Path, database: tuple[str, str]) -> Iterator[Deployment]:
    url, kind = database
    subprocess.run([sys.executable, "-m", "xtalk.server_cli", "--database", url, "user", "add",
                    "alice", "--password", PASSWORD, "--admin"],
                   check=True, capture_output=True, timeout=60)
    replicas = [ServerProcess(url, tmp_path / f"replica{i}.log", "--metrics")
                for i in range(2)]
    root = Path(tempfile.mkdtemp(prefix="xtalk-nginx-"))
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for replica in replicas:
            replica.wait_ready()
        cert = ensure_self_signed(root / "tls", hosts=("127.0.0.1",))
        https_port, http_port = free_port(), free_port()
        conf = root / "nginx.conf"
        conf.write_text(render_config(root, [r.port for r in replicas], https_port, http_port,
                                      cert.cert_path, cert.key_path))
        check = subprocess.run([NGINX, "-t", "-p", str(root), "-c", str(conf)],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen([NGINX, "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        context = ssl.create_default_context(cafile=str(cert.cert_path))
        base = f"https://127.0.0.1:{https_port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/readyz", verify=context, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert nginx.poll() is None, nginx.stderr.read().decode() if nginx.stderr else ""
            assert time.monotonic() < deadline, (root / "error.log").read_text()
            time.sleep(0.2)
        login = httpx.post(f"{base}/api/auth/login", verify=context, timeout=15,
                           json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield Deployment(replicas, base, f"http://127.0.0.1:{http_port}", context,
                         login.json()["token"], root / "access.log", kind)
    finally:
        if nginx is not None:
            nginx.terminate()
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(timeout=10)
        for replica in replicas:
            replica.stop()
        shutil.rmtree(root, ignore_errors=True)


async def open_session(d: Deployment, session_id: str | None = None):
    query = f"?token={d.token}" + (f"&session_id={session_id}" if session_id else "")
    return await websockets.connect(d.ws + query, ssl=d.ssl, open_timeout=15)


async def start_conversation(d: Deployment) -> tuple[str, int]:
    """A new session through the proxy with one spoken turn; returns its id and the
    index of the replica it ran on. The connection is closed afterwards."""
    async with await open_session(d) as ws:
        session_id = (await receive_until(ws, "session_info"))["data"]["session_id"]
        assert await speak(ws, "hello") == "hello"
        on = await asyncio.to_thread(d.replica_with_session)
    await wait_stored(d, session_id, 2)
    return session_id, on


async def wait_stored(d: Deployment, session_id: str, messages: int) -> None:
    with d.client() as client:
        for _ in range(100):
            response = client.get(f"/api/sessions/{session_id}",
                                  headers={"Authorization": f"Bearer {d.token}"})
            assert response.status_code == 200, response.text
            if len(response.json()["messages"]) >= messages:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"session {session_id} did not reach {messages} stored messages")


async def reattach_and_continue(d: Deployment, session_id: str) -> int:
    """Attach to the session through the proxy, check the restored history, speak another
    turn; returns the index of the replica that served it."""
    async with await open_session(d, session_id) as ws:
        info = await receive_until(ws, "session_info")
        assert info["data"]["session_id"] == session_id
        attached = await receive_until(ws, "session_attached")
        history = attached["data"]["messages"]
        assert [m["role"] for m in history] == ["user", "assistant"]
        assert history[0]["content"] == "hello"
        assert await speak(ws, "hello") == "hello"
        on = await asyncio.to_thread(d.replica_with_session)
    await wait_stored(d, session_id, 4)
    return on


async def test_a_session_survives_the_loss_of_the_replica_it_was_not_on(
        deployment: Deployment):
    d = deployment
    session_id, on = await start_conversation(d)
    other = 1 - on
    d.replicas[other].kill()

    served_by = await reattach_and_continue(d, session_id)
    assert served_by == on
    # new sessions keep working: the proxy skips the dead replica
    for _ in range(4):
        async with await open_session(d) as ws:
            assert (await receive_until(ws, "session_info"))["data"]["session_id"]
    with d.client() as client:
        sessions = client.get("/api/sessions",
                              headers={"Authorization": f"Bearer {d.token}"}).json()
    assert [s["id"] for s in sessions if s["message_count"]] == [session_id]


async def test_a_session_moves_to_the_other_replica_when_its_own_is_lost(
        deployment: Deployment):
    d = deployment
    session_id, on = await start_conversation(d)
    d.replicas[on].kill()
    assert await reattach_and_continue(d, session_id) == 1 - on  # restored from the database


async def test_attaches_of_one_session_are_sticky(deployment: Deployment):
    """Both replicas up: every attach of a session lands on the same replica, so a second
    attach while the first is open is refused there as session_in_use."""
    d = deployment
    session_id, _ = await start_conversation(d)
    seen = set()
    for _ in range(3):
        async with await open_session(d, session_id) as ws:
            await receive_until(ws, "session_attached")
            seen.add(await asyncio.to_thread(d.replica_with_session))
            async with await open_session(d, session_id) as second:
                error = await receive_until(second, "error")
                assert error["data"]["code"] == "session_in_use"
    assert len(seen) == 1


def test_proxy_redirects_to_https_and_keeps_tokens_out_of_its_log(deployment: Deployment):
    d = deployment
    response = httpx.get(f"{d.http_base}/api/sessions", follow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")
    with d.client() as client:
        assert client.get("/metrics").status_code == 404  # scraped per replica only
        assert client.get("/api/sessions").status_code == 401  # login required
        assert client.get("/healthz").json()["status"] == "ok"

    async def attach_once() -> None:
        async with await open_session(d) as ws:
            await receive_until(ws, "session_info")

    asyncio.run(attach_once())
    time.sleep(0.5)  # nginx writes the access log line when the WebSocket closes
    log = d.access_log.read_text()
    assert "/ws" in log and "upstream=127.0.0.1:" in log
    assert d.token not in log and "token=" not in log
