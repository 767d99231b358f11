"""The ``xtalk-server`` command, run as a user would: a real process, a real client."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import websockets
from llm_server import free_port
from paths import tone_config
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


def _wait_for_line(server: ServerProcess, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = server.output()
        if text in output:
            return output
        if server.proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"no {text!r} in the server's output:\n{server.output()}")


@pytest.mark.parametrize("case", ["ollama", "configured", "none"])
def test_the_server_logs_its_language_model_at_start(case, tmp_path, monkeypatch):
    from ollama_server import ScriptedOllamaServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("XTALK_LLM_MODEL", raising=False)
    with ScriptedOllamaServer(installed=["llama3.2:1b"]) as ollama:
        model: dict[str, str] = {}
        probe = [ollama.port] if case == "ollama" else [free_port()]
        if case == "configured":
            model = {"base_url": ollama.base_url, "model": "qwen2.5:1.5b",
                     "api_key": "sk-never-in-logs"}
        config = tmp_path / "config.json"
        config.write_text(json.dumps(tone_config(llm_agent={
            "type": "DefaultAgent", "params": {"model": model, "probe_urls": probe}})))
        server = ServerProcess(f"sqlite:///{tmp_path / 'xtalk.db'}", tmp_path / "server.log",
                               "--log-level", "info", config=config)
        try:
            output = _wait_for_line(server, "language model:")
        finally:
            server.stop()
    line = next(x for x in output.splitlines() if "xtalk.server: language model:" in x)
    if case == "ollama":
        assert line.endswith(f"language model: {ollama.base_url} (model llama3.2:1b)")
    elif case == "configured":
        assert line.endswith(f"language model: {ollama.base_url} (model qwen2.5:1.5b)")
    else:
        assert "none found" in line and "offline agent" in line
    assert output.count("xtalk.server: language model:") == 1
    assert "sk-never-in-logs" not in output
