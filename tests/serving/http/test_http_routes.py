"""The mounted HTTP/WebSocket routes over real sockets on loopback: login and tokens, user
isolation, uploads and retrieval, origin checks, and stored sessions that survive a real
server restart (also ``kill -9``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from harness import WebSocketTestClient, close_clients, make_config
from paths import ROOT, TONE_CONFIG
from routes_server import RoutesServer, fast_hasher, open_client, serve_routes
from server_process import ServerProcess, free_port

from xtalk import Xtalk
from xtalk.serving.http.auth import AuthSettings, origin_allowed
from xtalk.store import Store, sqlite_url

PASSWORD = "correct horse battery"
DOCUMENT = ("# Zephyr blender\n\nThe warranty period of the Zephyr blender is seven years "
            "from the date of purchase.\n\nThe blender jar holds two litres.\n")
QUESTION = "How long is the warranty of the zephyr blender?"
TIMEOUT = 15.0


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(sqlite_url(tmp_path / "store.db"), password_hasher=fast_hasher())
    yield store
    store.close()


@contextlib.asynccontextmanager
async def serve(store: Store, auth: AuthSettings | None = None,
                **config: Any) -> AsyncIterator[RoutesServer]:
    async with serve_routes(Xtalk.from_config(make_config(**config)), store, PASSWORD,
                            auth=auth) as server:
        yield server


async def refused(client: WebSocketTestClient) -> tuple[int | None, dict[str, Any]]:
    """(close code, error data) of a refused WebSocket; it must never run a session."""
    await client.wait_closed(timeout=TIMEOUT)
    assert client.first("session_info") is None, client.dump()
    error = client.first("error")
    assert error is not None, client.dump()
    exc = client.ws.close_exc if hasattr(client.ws, "close_exc") else None
    code = client.ws.close_code if exc is None else exc.rcvd.code if exc.rcvd else None
    return code, error.data


async def converse(client: WebSocketTestClient, text: str) -> None:
    """One typed turn, until the reply has been played out (then it is committed)."""
    start = len(client.messages)
    await client.send_json({"action": "text_input", "data": {"text": text}})
    await client.wait_for("tts_finished", start=start, timeout=TIMEOUT)
    # tts_finished: all audio sent; the client's queue running dry: all of it heard
    await client.send_json({"action": "tts_playback_finished", "data": {"timestamp": 0}})


async def stored_messages(http: httpx.AsyncClient, session_id: str, count: int,
                          headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The session's stored messages once there are ``count`` of them."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        response = await http.get(f"/api/sessions/{session_id}", headers=headers)
        assert response.status_code == 200, response.text
        messages = response.json()["messages"]
        if len(messages) >= count:
            return messages
        assert time.monotonic() < deadline, f"only {len(messages)} messages stored"
        await asyncio.sleep(0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- authentication
async def test_auth_is_off_on_loopback_while_the_store_has_no_users(store: Store) -> None:
    async with serve(store) as server:
        response = await server.http.get("/api/sessions")
        assert response.status_code == 200 and response.json() == []
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "access-control-allow-origin" not in response.headers
        client = await server.session()
        await converse(client, "the sky is green")
        messages = await stored_messages(server.http, client.session_id, 2)
        assert [(m["role"], m["content"]) for m in messages] == [
            ("user", "the sky is green"), ("assistant", "I heard you say: the sky is green.")]
        listed = (await server.http.get("/api/sessions")).json()
        assert [(s["id"], s["message_count"], s["title"]) for s in listed] == [
            (client.session_id, 2, "the sky is green")]


async def test_without_auth_a_foreign_host_name_is_refused(store: Store) -> None:
    """DNS rebinding: a page served as evil.example resolving to 127.0.0.1."""
    async with serve(store) as server:
        response = await server.http.get("/api/sessions", headers={"Host": "evil.example"})
        assert response.status_code == 403
        sock = socket.create_connection(("127.0.0.1", server.port))
        ws = await websockets.connect(f"ws://evil.example:{server.port}/ws", sock=sock,
                                      origin=f"http://evil.example:{server.port}")
        client = WebSocketTestClient("rebound", ws)
        client.start()
        server.clients.append(client)
        code, error = await refused(client)
        assert code == 4403 and error["code"] == "forbidden_host"
        # A second Host header (never sent by browsers) does not get past the check.
        doubled = await server.open(headers={"Host": "evil.example"})
        assert (await refused(doubled))[0] == 4403


async def test_the_auth_status_tells_a_page_whether_to_sign_in(store: Store) -> None:
    """Always 200, so a page that does not know yet logs no refused request."""
    async with serve(store) as server:  # no user: the local machine needs no login
        assert (await server.http.get("/api/auth/status")).json() == {
            "sign_in_needed": False, "signed_in": False}
    store.users.create_user("alice", PASSWORD)
    async with serve(store) as server:
        for headers in ({}, bearer("not-a-token")):
            status = await server.http.get("/api/auth/status", headers=headers)
            assert status.status_code == 200
            assert status.json() == {"sign_in_needed": True, "signed_in": False}
        token = await server.login("alice")
        assert (await server.http.get("/api/auth/status", headers=bearer(token))).json() == {
            "sign_in_needed": False, "signed_in": True}


async def test_auth_is_required_as_soon_as_a_user_exists(store: Store) -> None:
    store.users.create_user("alice", PASSWORD)
    async with serve(store) as server:
        response = await server.http.get("/api/sessions")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        bad = await server.http.get("/api/sessions", headers=bearer("not-a-token"))
        assert bad.status_code == 401
        token = await server.login("alice")
        assert (await server.http.get("/api/sessions", headers=bearer(token))).json() == []
        for route in ("/api/sessions/abc", "/api/upload?session_id=abc"):
            method = server.http.post if "upload" in route else server.http.get
            assert (await method(route)).status_code == 401, route

        code, error = await refused(await server.open())
        assert code == 4401 and error["code"] == "unauthorized"
        code, _ = await refused(await server.open("wrong-token"))
        assert code == 4401
        by_query = await server.session(token)
        by_header = await server.session(headers=bearer(token))
        assert by_query.session_id != by_header.session_id


async def test_lan_mode_requires_auth_even_without_users(store: Store) -> None:
    async with serve(store, AuthSettings(lan=True)) as server:
        assert (await server.http.get("/api/sessions")).status_code == 401
        code, _ = await refused(await server.open())
        assert code == 4401


async def test_login_with_a_wrong_password_or_unknown_user_is_401(store: Store) -> None:
    store.users.create_user("alice", PASSWORD)
    async with serve(store) as server:
        wrong = await server.http.post("/api/auth/login",
                                       json={"username": "alice", "password": "nope"})
        unknown = await server.http.post("/api/auth/login",
                                         json={"username": "mallory", "password": "nope"})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json() == {"detail": "Invalid username or password."}
        ok = await server.http.post("/api/auth/login",
                                    json={"username": "alice", "password": PASSWORD})
        body = ok.json()
        assert ok.status_code == 200 and body["user"]["username"] == "alice"
        assert ok.headers["cache-control"] == "no-store"
        assert body["token_type"] == "bearer" and body["expires_at"]
        assert "password" not in json.dumps(body)


async def test_failed_logins_are_throttled(store: Store) -> None:
    store.users.create_user("alice", PASSWORD)
    auth = AuthSettings(max_failed_logins=3, failed_login_window_s=60)
    async with serve(store, auth) as server:
        for _ in range(3):
            response = await server.http.post("/api/auth/login",
                                              json={"username": "alice", "password": "x"})
            assert response.status_code == 401
        response = await server.http.post("/api/auth/login",
                                          json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 429 and "retry-after" in response.headers


async def test_logout_revokes_the_token(store: Store) -> None:
    store.users.create_user("alice", PASSWORD)
    async with serve(store) as server:
        token = await server.login("alice")
        other = await server.login("alice")
        response = await server.http.post("/api/auth/logout", headers=bearer(token))
        assert response.status_code == 200 and response.json() == {"revoked": True}
        assert (await server.http.get("/api/sessions", headers=bearer(token))).status_code \
            == 401
        assert (await server.http.post("/api/auth/logout",
                                       headers=bearer(token))).status_code == 401
        code, _ = await refused(await server.open(token))
        assert code == 4401
        # Other devices of the same user stay logged in.
        assert (await server.http.get("/api/sessions", headers=bearer(other))).status_code \
            == 200


async def test_a_pairing_code_is_exchanged_once_for_a_token(store: Store) -> None:
    alice = store.users.create_user("alice", PASSWORD)
    code = store.users.rotate_pairing_code(alice)
    async with serve(store) as server:
        wrong = await server.http.post("/api/auth/login/pairing", json={"code": "00000000"
                                       if code != "00000000" else "11111111"})
        assert wrong.status_code == 401
        response = await server.http.post("/api/auth/login/pairing", json={"code": code})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user"]["username"] == "alice"
        assert (await server.http.get("/api/sessions",
                                      headers=bearer(body["token"]))).status_code == 200
        again = await server.http.post("/api/auth/login/pairing", json={"code": code})
        assert again.status_code == 401


# --------------------------------------------------------------------------- isolation
async def test_users_never_see_each_others_sessions(store: Store) -> None:
    store.users.create_user("alice", PASSWORD)
    store.users.create_user("bob", PASSWORD)
    async with serve(store) as server:
        alice, bob = await server.login("alice"), await server.login("bob")
        client = await server.session(alice)
        await converse(client, "my secret plan")
        sid = client.session_id
        await stored_messages(server.http, sid, 2, headers=bearer(alice))

        listed = (await server.http.get("/api/sessions", headers=bearer(bob))).json()
        assert sid not in [s["id"] for s in listed]
        detail = await server.http.get(f"/api/sessions/{sid}", headers=bearer(bob))
        missing = await server.http.get("/api/sessions/" + "0" * 32, headers=bearer(bob))
        assert detail.status_code == missing.status_code == 404
        assert detail.json() == missing.json()  # nothing tells the ids apart
        upload = await server.http.post("/api/upload", params={"session_id": sid},
                                        content=b"bob's notes",
                                        headers={**bearer(bob), "Content-Type": "text/plain"})
        assert upload.status_code == 404
        await client.close()
        await client.wait_closed(TIMEOUT)
        code, error = await refused(await server.open(bob, session_id=sid))
        assert code == 4404 and error["code"] == "session_not_found"
        assert store.documents.list_documents(bob_id(store)) == []
        # Alice still can.
        attached = await server.session(alice, session_id=sid)
        await attached.wait_for("session_attached", timeout=TIMEOUT)


def bob_id(store: Store) -> int:
    return next(u.id for u in store.users.list_users() if u.username == "bob")


# --------------------------------------------------------------------------- uploads
async def test_upload_limits_and_content_checks(store: Store) -> None:
    limit = 16 * 1024
    async with serve(store, AuthSettings(max_upload_bytes=limit)) as server:
        client = await server.session()
        sid = client.session_id
        url = "/api/upload"
        params = {"session_id": sid, "filename": "notes.txt"}
        sent = 0

        async def chunks():  # no Content-Length: the limit must hold while streaming
            nonlocal sent
            for _ in range(12):
                sent += 4096
                yield b"a" * 4096

        response = await server.http.post(url, params=params, content=chunks(),
                                          headers={"Content-Type": "text/plain"})
        assert response.status_code == 413, response.text
        assert str(limit) in response.json()["detail"]
        declared = await server.http.post(url, params=params, content=b"b" * (limit + 1),
                                          headers={"Content-Type": "text/plain"})
        assert declared.status_code == 413

        wrong_type = await server.http.post(url, params=params, content=b"{}",
                                            headers={"Content-Type": "application/json"})
        assert wrong_type.status_code == 415
        assert "text/plain" in wrong_type.json()["detail"]
        pdf = await server.http.post(url, params=params, content=b"%PDF-1.4",
                                     headers={"Content-Type": "application/pdf"})
        try:
            import pypdf  # noqa: F401
        except ImportError:
            assert pdf.status_code == 415 and "pypdf" in pdf.json()["detail"]
        latin1 = await server.http.post(url, params=params, content=b"ok",
                                        headers={"Content-Type": "text/plain; charset=latin-1"})
        assert latin1.status_code == 415
        bad_utf8 = await server.http.post(url, params=params, content=b"caf\xe9 \xff\xfe",
                                          headers={"Content-Type": "text/plain"})
        assert bad_utf8.status_code == 400 and "UTF-8" in bad_utf8.json()["detail"]
        empty = await server.http.post(url, params=params, content=b"  \n",
                                       headers={"Content-Type": "text/plain"})
        assert empty.status_code == 400
        unknown = await server.http.post(url, params={"session_id": "f" * 32},
                                         content=b"text", headers={"Content-Type": "text/plain"})
        assert unknown.status_code == 404
        assert store.documents.list_documents(None) == []

        exact = await server.http.post(url, params=params, content=b"c " * (limit // 2),
                                       headers={"Content-Type": "text/plain"})
        assert exact.status_code == 201, exact.text
        # The server is fine after all that.
        await converse(client, "still there")


async def test_an_uploaded_document_is_retrieved_for_the_next_question(store: Store) -> None:
    async with serve(store) as server:
        client = await server.session()
        sid = client.session_id
        response = await server.http.post(
            "/api/upload", params={"session_id": sid, "filename": "zephyr.md"},
            content=DOCUMENT.encode(), headers={"Content-Type": "text/markdown; charset=utf-8"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["indexed_live"] is True
        assert body["document"]["name"] == "zephyr.md"
        assert body["document"]["content_type"] == "text/markdown"
        assert body["document"]["chunk_count"] >= 1
        start = len(client.messages)
        await client.send_json({"action": "text_input", "data": {"text": QUESTION}})
        retrieved = await client.wait_for("retrieval_updated", start=start, timeout=TIMEOUT)
        assert "seven years" in retrieved.data["text"]
        assert "[zephyr.md]" in retrieved.data["text"]
        assert store.documents.search(None, "warranty zephyr")
        assert body["document"]["session_id"] == sid


# --------------------------------------------------------------------------- origins
async def test_a_cross_origin_websocket_is_refused(store: Store) -> None:
    auth = AuthSettings(allowed_origins=("https://app.example",))
    async with serve(store, auth) as server:
        evil = await server.open(origin="http://evil.example")
        code, error = await refused(evil)
        assert code == 4403 and error["code"] == "forbidden_origin"
        assert not server.xtalk.sessions
        null = await server.open(origin="null")
        assert (await refused(null))[0] == 4403
        other_port = await server.open(origin=f"http://127.0.0.1:{server.port + 1}")
        assert (await refused(other_port))[0] == 4403

        await server.session()  # no Origin: not a browser
        await server.session(origin=f"http://127.0.0.1:{server.port}")  # same origin
        await server.session(origin="https://app.example")  # configured

        csrf = await server.http.post("/api/auth/login",
                                      json={"username": "a", "password": "b"},
                                      headers={"Origin": "http://evil.example"})
        assert csrf.status_code == 403
        assert "access-control-allow-origin" not in csrf.headers


def test_origin_rules() -> None:
    def scope(origin: str | None, host: str) -> dict[str, Any]:
        headers = [(b"host", host.encode())]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        return {"type": "websocket", "headers": headers}

    assert origin_allowed(scope(None, "127.0.0.1:8765"))
    assert origin_allowed(scope("http://127.0.0.1:8765", "127.0.0.1:8765"))
    assert origin_allowed(scope("http://LOCALHOST:8765", "localhost:8765"))
    assert origin_allowed(scope("https://xtalk.lan", "xtalk.lan"))
    assert not origin_allowed(scope("http://xtalk.lan:8080", "xtalk.lan"))
    assert not origin_allowed(scope("http://localhost:8766", "localhost:8765"))
    assert not origin_allowed(scope("http://evil.example", "127.0.0.1:8765"))
    assert not origin_allowed(scope("null", "127.0.0.1:8765"))
    assert origin_allowed(scope("https://app.example", "127.0.0.1:8765"),
                          AuthSettings(allowed_origins=("https://app.example:443",))
                          .allowed_origins)


# --------------------------------------------------------------------------- attach
async def test_attaching_restores_a_stored_session(store: Store) -> None:
    async with serve(store) as server:
        client = await server.session()
        sid = client.session_id
        await converse(client, "first question")
        await stored_messages(server.http, sid, 2)
        busy = await server.open(session_id=sid)
        code, error = await refused(busy)
        assert code == 4409 and error["code"] == "session_in_use"
        await client.close()
        await client.wait_closed(TIMEOUT)
        for _ in range(100):
            if sid not in server.xtalk.sessions:
                break
            await asyncio.sleep(0.05)

        again = await server.session(session_id=sid)
        assert again.session_id == sid
        attached = await again.wait_for("session_attached", timeout=TIMEOUT)
        assert attached.index == again.first("session_info").index + 1
        assert attached.data["session_id"] == sid
        assert [m["content"] for m in attached.data["messages"]] == [
            "first question", "I heard you say: first question."]
        await converse(again, "second question")
        messages = await stored_messages(server.http, sid, 4)
        assert [m["content"] for m in messages][2:] == [
            "second question", "I heard you say: second question."]
        assert len((await server.http.get("/api/sessions")).json()) == 1
        code, _ = await refused(await server.open(session_id="no-such-session"))
        assert code == 4404


async def test_the_openapi_schema_documents_every_route(store: Store) -> None:
    async with serve(store) as server:
        schema = (await server.http.get("/openapi.json")).json()
    paths = schema["paths"]
    for path, method in [("/api/auth/login", "post"), ("/api/auth/login/pairing", "post"),
                         ("/api/auth/logout", "post"), ("/api/sessions", "get"),
                         ("/api/sessions/{session_id}", "get"), ("/api/upload", "post")]:
        operation = paths[path][method]
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        assert "$ref" in json.dumps(operation["responses"][ok]), (path, ok)
        assert "401" in operation["responses"] or path.startswith("/api/auth/login")
    assert "text/plain" in paths["/api/upload"]["post"]["requestBody"]["content"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


# --------------------------------------------------------------------------- a real server
@pytest.fixture
def start_server(tmp_path: Path):
    """Starts ``xtalk-server`` processes (listening when returned); all killed after."""
    started: list[ServerProcess] = []

    def start(db_url: str, config: Path = TONE_CONFIG) -> ServerProcess:
        server = ServerProcess(db_url, tmp_path / f"server{len(started)}.log", config=config)
        started.append(server)
        server.wait_listening()
        return server

    yield start
    for server in started:
        server.kill()


async def _attach_after_restart(start_server, db_url: str, sid: str
                                ) -> tuple[WebSocketTestClient, list[WebSocketTestClient]]:
    server = start_server(db_url)
    clients: list[WebSocketTestClient] = []
    client = await open_client(server.ws_url, clients, None, session_id=sid)
    await client.wait_for("session_info", timeout=TIMEOUT)
    await client.wait_for("session_attached", timeout=TIMEOUT)
    return client, clients


async def test_a_session_survives_a_server_restart(tmp_path: Path, start_server) -> None:
    db_url = sqlite_url(tmp_path / "restart.db")
    first = start_server(db_url)
    clients: list[WebSocketTestClient] = []
    async with httpx.AsyncClient(base_url=first.base, timeout=TIMEOUT) as http:
        client = await open_client(first.ws_url, clients, None)
        await client.wait_for("session_info", timeout=TIMEOUT)
        sid = client.session_id
        await converse(client, "remember the blue door")
        upload = await http.post("/api/upload", params={"session_id": sid,
                                                        "filename": "zephyr.md"},
                                 content=DOCUMENT.encode(),
                                 headers={"Content-Type": "text/markdown"})
        assert upload.status_code == 201, upload.text
        await stored_messages(http, sid, 2)
    await close_clients(clients)
    first.stop()
    assert first.proc.returncode is not None

    client, clients = await _attach_after_restart(start_server, db_url, sid)
    try:
        attached = client.first("session_attached")
        assert [(m["role"], m["content"]) for m in attached.data["messages"]] == [
            ("user", "remember the blue door"),
            ("assistant", "I heard you say: remember the blue door.")]
        # The document came back with the session: retrieval still works.
        start = len(client.messages)
        await client.send_json({"action": "text_input", "data": {"text": QUESTION}})
        retrieved = await client.wait_for("retrieval_updated", start=start, timeout=TIMEOUT)
        assert "seven years" in retrieved.data["text"]
    finally:
        await close_clients(clients)


async def test_turns_completed_before_kill_9_survive(tmp_path: Path, start_server) -> None:
    db_url = sqlite_url(tmp_path / "kill.db")
    slow = tmp_path / "slow_agent.json"  # replies stream word by word: a turn takes a while
    slow.write_text(json.dumps(make_config(agent={"token_delay_s": 0.1})))
    first = start_server(db_url, config=slow)
    clients: list[WebSocketTestClient] = []
    try:
        async with httpx.AsyncClient(base_url=first.base, timeout=TIMEOUT) as http:
            client = await open_client(first.ws_url, clients, None)
            await client.wait_for("session_info", timeout=TIMEOUT)
            sid = client.session_id
            await converse(client, "turn one")
            await converse(client, "turn two")
            # Stored while the session is still running, not at its end.
            await stored_messages(http, sid, 4)
            await client.send_json({"action": "text_input",
                                    "data": {"text": "turn three in progress"}})
            await client.wait_for("update_resp", predicate=lambda m: m.turn_id == 3,
                                  timeout=TIMEOUT)
            first.kill()  # SIGKILL mid-reply: no shutdown code runs
            assert client.first("finish_resp", turn_id=3) is None, "the turn was not cut"
        assert first.proc.returncode == -signal.SIGKILL
    finally:
        await close_clients(clients)

    client, clients = await _attach_after_restart(start_server, db_url, sid)
    try:
        contents = [m["content"] for m in client.first("session_attached").data["messages"]]
        assert contents[:4] == ["turn one", "I heard you say: turn one.",
                                "turn two", "I heard you say: turn two."]
        assert all("three" in c for c in contents[4:])  # at most the turn in progress
    finally:
        await close_clients(clients)


def test_lan_mode_refuses_to_start_without_users(tmp_path: Path) -> None:
    db_url = sqlite_url(tmp_path / "lan.db")
    result = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--config", str(TONE_CONFIG), "--lan",
         "--database", db_url, "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode != 0
    assert "no users" in result.stderr and "xtalk-server user add" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_and_pairing_commands(tmp_path: Path) -> None:
    db_url = sqlite_url(tmp_path / "cli.db")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "xtalk.server_cli", *args],
                              capture_output=True, text=True, timeout=60, cwd=ROOT,
                              input=stdin, env={**os.environ, "XTALK_DATABASE_URL": db_url})

    added = run("user", "add", "alice", "--password", PASSWORD)
    assert added.returncode == 0, added.stderr
    from_stdin = run("user", "add", "bob", stdin="hunter2 hunter2\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert run("user", "add", "alice", "--password", "x").returncode != 0
    listed = run("user", "list")
    assert re.search(r"\balice\b", listed.stdout) and re.search(r"\bbob\b", listed.stdout)
    code = run("pairing-code", "alice")
    assert code.returncode == 0 and re.fullmatch(r"\d{8}\n", code.stdout)
    assert run("pairing-code", "nobody").returncode != 0
    with Store.open(db_url, password_hasher=fast_hasher()) as store:
        assert store.users.authenticate("bob", "hunter2 hunter2") is not None
        assert store.users.redeem_pairing_code(code.stdout.strip()) is not None
