"""/healthz, /readyz and the opt-in Prometheus /metrics of xtalk-server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from fastapi.testclient import TestClient
from server_process import TONE_CONFIG, ServerProcess, http_get, http_post_json, speak

from xtalk.server_cli import build_app
from xtalk.serving.http.metrics import Histogram
from xtalk.store import Store, sqlite_url


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in\n{text}"
    return float(match.group(1))


def test_readiness_follows_the_database(tmp_path: Path):
    folder = tmp_path / "db"
    store = Store.open(sqlite_url(folder / "xtalk.db"))
    try:
        client = TestClient(build_app(str(TONE_CONFIG), store=store))
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["load"]["saturated"] is False
        assert health["load"]["sessions"] == health["load"]["waiting"] == 0
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready",
                                "checks": {"models": "ok", "database": "ok"}}
        assert client.get("/metrics").status_code == 404  # opt-in only

        shutil.rmtree(folder)  # the database goes away
        store.database.engine.dispose()
        broken = client.get("/readyz")
        assert broken.status_code == 503
        assert broken.json() == {"status": "not_ready",
                                 "checks": {"models": "ok", "database": "unreachable"}}
        assert "xtalk.db" not in broken.text
        assert client.get("/healthz").status_code == 200  # alive, just not ready
    finally:
        store.close()


def test_readiness_needs_the_models(tmp_path: Path):
    store = Store.open(sqlite_url(tmp_path / "xtalk.db"))
    try:
        app = build_app(str(TONE_CONFIG), store=store)
        client = TestClient(app)
        app.state.xtalk.service_prototype.pipeline.tts_model = None  # as if it failed to load
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"models": "missing: tts", "database": "ok"}
    finally:
        store.close()


def test_metrics_access_is_the_routes_check_plus_admin(tmp_path: Path):
    """/metrics refuses exactly what the routes refuse (one principal check), and a
    logged-in caller must also be an admin."""
    store = Store.open(sqlite_url(tmp_path / "xtalk.db"))
    try:
        root = store.users.create_user("root", "root-pass-123", is_admin=True)
        guest = store.users.create_user("guest", "guest-pass-123")
        client = TestClient(build_app(str(TONE_CONFIG), store=store, metrics=True))
        cases = {
            "cross-origin": ({"Origin": "http://evil.example"}, 403),
            "no token": ({}, 401),
            "bad token": ({"Authorization": "Bearer not-a-token"}, 401),
        }
        for what, (headers, status) in cases.items():
            route = client.get("/api/sessions", headers=headers)
            metrics = client.get("/metrics", headers=headers)
            assert route.status_code == metrics.status_code == status, what
            assert route.json()["detail"] in metrics.text, what
            assert "xtalk_" not in metrics.text
        guest_auth = {"Authorization": f"Bearer {store.users.issue_token(guest)}"}
        assert client.get("/api/sessions", headers=guest_auth).status_code == 200
        refused = client.get("/metrics", headers=guest_auth)
        assert refused.status_code == 403 and "admin" in refused.text
        root_auth = {"Authorization": f"Bearer {store.users.issue_token(root)}"}
        served = client.get("/metrics", headers=root_auth)
        assert served.status_code == 200 and metric(served.text, "xtalk_sessions_active") == 0
    finally:
        store.close()


async def test_a_gate_without_a_store_lets_only_login_free_requests_through():
    from xtalk.serving.http.auth import AuthGate, AuthRefused, AuthSettings

    gate = AuthGate(None, AuthSettings())

    def scope(client: str, host: str = "127.0.0.1:8000") -> dict:
        return {"type": "http", "client": (client, 5000),
                "headers": [(b"host", host.encode())], "query_string": b""}

    assert (await gate.principal(scope("127.0.0.1"))).user is None
    for request, status in ((scope("192.168.1.20"), 401),
                            (scope("127.0.0.1", "rebound.example:8000"), 403)):
        with pytest.raises(AuthRefused) as refused:
            await gate.principal(request)
        assert refused.value.status == status


def test_histogram_is_cumulative():
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 0.5, 7.0, float("nan"), -1.0):
        histogram.observe(value)
    assert histogram.lines("x", 'stage="a"') == [
        'x_bucket{stage="a",le="0.1"} 1', 'x_bucket{stage="a",le="1"} 3',
        'x_bucket{stage="a",le="+Inf"} 4', 'x_sum{stage="a"} 8.05',
        'x_count{stage="a"} 4']


@pytest.fixture
def metrics_server(tmp_path: Path):
    server = ServerProcess(sqlite_url(tmp_path / "xtalk.db"), tmp_path / "server.log",
                           "--metrics")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def test_metrics_count_sessions_turns_and_stage_latency(metrics_server: ServerProcess):
    status, before = http_get(f"{metrics_server.base}/metrics")
    assert status == 200
    assert metric(before, "xtalk_sessions_active") == 0
    assert metric(before, 'xtalk_turns_total{modality="speech"}') == 0
    assert "# TYPE xtalk_stage_latency_seconds histogram" in before

    async with websockets.connect(f"ws://127.0.0.1:{metrics_server.port}/ws") as ws:
        assert await speak(ws, "hello") == "hello"
        _, during = http_get(f"{metrics_server.base}/metrics")
        assert metric(during, "xtalk_sessions_active") == 1
        assert metric(during, "xtalk_session_limit") == 2  # max_connections of the fixture
        assert metric(during, "xtalk_sessions_started_total") == 1
        assert metric(during, 'xtalk_turns_total{modality="speech"}') == 1
        for stage in ("asr", "e2e", "tts_first_chunk", "llm_first_token"):
            count = metric(during, f'xtalk_stage_latency_seconds_count{{stage="{stage}"}}')
            total = metric(during, f'xtalk_stage_latency_seconds_sum{{stage="{stage}"}}')
            inf = metric(during, f'xtalk_stage_latency_seconds_bucket{{stage="{stage}",'
                                 'le="+Inf"}')
            assert count == inf == 1 and 0 <= total < 30, stage
        e2e = metric(during, 'xtalk_stage_latency_seconds_sum{stage="e2e"}')
        assert e2e > 0
    status, _ = http_get(f"{metrics_server.base}/readyz")
    assert status == 200


def test_metrics_need_an_admin_token_when_login_is_on(tmp_path: Path):
    database = sqlite_url(tmp_path / "xtalk.db")
    for name, extra in (("root", ["--admin"]), ("guest", [])):
        subprocess.run([sys.executable, "-m", "xtalk.server_cli", "--database", database,
                        "user", "add", name, "--password", f"{name}-pass-123", *extra],
                       check=True, capture_output=True, timeout=60)
    server = ServerProcess(database, tmp_path / "server.log", "--metrics")
    try:
        server.wait_ready()
        tokens = {}
        for name in ("root", "guest"):
            status, body = http_post_json(f"{server.base}/api/auth/login",
                                          {"username": name, "password": f"{name}-pass-123"})
            assert status == 200, body
            tokens[name] = body["token"]
        status, body = http_get(f"{server.base}/metrics")
        assert status == 401 and "xtalk_" not in body
        status, body = http_get(f"{server.base}/metrics",
                                {"Authorization": "Bearer not-a-token"})
        assert status == 401
        status, body = http_get(f"{server.base}/metrics",
                                {"Authorization": f"Bearer {tokens['guest']}"})
        assert status == 403 and "xtalk_" not in body
        status, body = http_get(f"{server.base}/metrics",
                                {"Authorization": f"Bearer {tokens['root']}"})
        assert status == 200 and metric(body, "xtalk_sessions_active") == 0
        assert http_get(f"{server.base}/readyz")[0] == 200  # the proxy needs no token
    finally:
        server.stop()


def test_health_shows_a_saturated_server_as_busy(tmp_path: Path):
    store = Store.open(sqlite_url(tmp_path / "xtalk.db"))
    try:
        app = build_app(str(TONE_CONFIG), store=store)
        client = TestClient(app)
        app.state.xtalk.load.force(True)
        health = client.get("/healthz")
        assert health.status_code == 200  # alive: a proxy must not kill a busy replica
        assert health.json()["status"] == "busy" and health.json()["load"]["saturated"]
        app.state.xtalk.load.force(None)
        assert client.get("/healthz").json()["status"] == "ok"
    finally:
        store.close()
