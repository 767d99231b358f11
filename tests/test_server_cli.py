"""The ``xtalk-server`` command, run as a user would: a real process, a real client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import websockets
from server_process import ServerProcess, voice_turn


@pytest.fixture()
def server(tmp_path):
    # A database in tmp_path: never the user's real store.
    server = ServerProcess(f"sqlite:///{tmp_path / 'xtalk.db'}", tmp_path / "server.log")
    server.wait_listening()
    yield server.port
    server.stop()


async def test_a_real_client_has_a_conversation_with_the_server(server):
    async with websockets.connect(f"ws://127.0.0.1:{server}/ws") as ws:
        first = json.loads(await ws.recv())
        assert first["action"] == "session_info"
        turn = await voice_turn(ws, "hello", timeout=15)
        assert turn.recognised == "hello"
        assert turn.actions.index("finish_asr") < turn.actions.index("start_tts")
        assert turn.reply == "hello how can i help you"


def test_a_bad_config_is_reported_clearly(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"asr": "NoSuchASR", "llm_agent": "RuleAgent",
                               "tts": "ToneCodeTTS"}))
    result = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--config", str(bad), "--database",
         f"sqlite:///{tmp_path / 'xtalk.db'}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "NoSuchASR" in result.stderr and "'asr'" in result.stderr
    assert "Traceback" not in result.stderr
