"""The ``xtalk-server`` command, run as a user would: a real process, a real client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest
import soxr
import websockets
from server_process import ServerProcess

from xtalk.models import tone_code


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
        speech = tone_code.encode("hello", 16000)
        audio = np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(16000, np.int16)])
        for i in range(0, audio.size, 512):
            await ws.send(audio[i:i + 512].tobytes())
            await asyncio.sleep(0.008)
        actions, pcm = [], []
        async with asyncio.timeout(15):
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    pcm.append(np.frombuffer(message, dtype=np.int16))
                    continue
                data = json.loads(message)
                actions.append(data["action"])
                if data["action"] == "finish_asr":
                    assert data["data"]["text"] == "hello"
                if data["action"] == "tts_finished":
                    break
        assert actions.index("finish_asr") < actions.index("start_tts")
        reply = soxr.resample(np.concatenate(pcm), 48000, 16000).astype(np.int16)
        text, _ = tone_code.decode(reply, 16000)
        assert text == "hello how can i help you"


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
