"""EngineHost (app/engine/host.py) with the tone-code test models: spoken and typed turns, the
state shown to the user, mute, push-to-talk, conversations in the store, and LAN mode."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soxr
import websockets
from argon2 import PasswordHasher
from harness import decode_wire_audio, silence, speech, tones
from paths import tone_config

from app.engine import EngineError, EngineHost
from xtalk.store import Store, sqlite_url

MIC_RATE = 44100
BLOCK_S = 0.02



class Recorder:
    """Collects the host's messages; ``wait_for`` polls (no Qt involved)."""

    def __init__(self, host: EngineHost) -> None:
        self.messages: list[dict[str, Any]] = []
        host.add_listener(self.messages.append)

    def actions(self) -> list[str]:
        return [m.action for m in self.messages]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.action == action]

    def states(self) -> list[str]:
        return [m.state for m in self.of("engine_state")]

    def audio(self) -> np.ndarray:
        chunks = [m.pcm for m in self.of("audio")]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; got {self.actions()}")
            await asyncio.sleep(0.01)

    async def wait_action(self, action: str, count: int = 1, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.of(action)) >= count, timeout)


def as_mic(pcm16k: np.ndarray, rate: int = MIC_RATE, channels: int = 2) -> np.ndarray:
    """16 kHz PCM16 → float32 at ``rate`` with ``channels`` channels (a sound card's
    format)."""
    x = soxr.resample(pcm16k.astype(np.float32) / 32768.0, 16000, rate).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


async def feed(host: EngineHost, samples: np.ndarray, rate: int = MIC_RATE,
               speed: float = 4.0) -> None:
    """Submit ``samples`` in 20 ms blocks, ``speed`` × real time (as the callback would:
    from another thread)."""
    block = round(rate * BLOCK_S)
    start = time.monotonic()
    for n, i in enumerate(range(0, samples.shape[0], block)):
        chunk = np.ascontiguousarray(samples[i:i + block])
        await asyncio.to_thread(host.submit_microphone, chunk, rate)
        delay = start + (n + 1) * BLOCK_S / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


@pytest.fixture
async def host():
    h = EngineHost(tone_config(), output_sample_rate=48000)
    yield h
    await h.stop()


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(sqlite_url(tmp_path / "xtalk.db"),
                   password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield s
    s.close()


# --------------------------------------------------------------------------- start
async def test_start_reports_progress_and_opens_a_session(host: EngineHost) -> None:
    stages: list[tuple[str, float]] = []
    rec = Recorder(host)
    await host.start(progress=lambda stage, fraction: stages.append((stage, fraction)))
    # the models load side by side: each report names a stage still loading, the share
    # done only grows, and the last model's report is complete
    assert {s for s, _ in stages[:-1]} <= {"asr", "vad", "turn_detector", "tts", "agent"}
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-2] == 1.0
    assert stages[-1] == ("ready", 1.0)
    assert host.session_id and len(host.session_id) == 32
    assert rec.of("session_info")[0].data["session_id"] == host.session_id
    assert rec.states() == ["loading", "listening"]
    assert host.state == "listening"
    with pytest.raises(EngineError):
        await host.start()


async def test_a_bad_config_shows_the_error_state() -> None:
    h = EngineHost(tone_config(asr="NoSuchASR"))
    rec = Recorder(h)
    with pytest.raises(ValueError, match="NoSuchASR"):
        await h.start()
    assert rec.states()[-1] == "error"
    await h.stop()


# --------------------------------------------------------------------------- turns
async def test_a_spoken_turn_at_44k_stereo_gets_a_decodable_reply(host: EngineHost) -> None:
    rec = Recorder(host)
    await host.start()
    await feed(host, as_mic(speech("hello there", tail_s=0.8)))
    await rec.wait_action("tts_finished")
    assert rec.of("finish_asr")[0].data["text"] == "hello there"
    audio = rec.of("audio")
    assert audio and all(m.sample_rate == 48000 for m in audio)
    assert all(m.pcm.dtype == np.int16 for m in audio)
    assert [m.chunk_index for m in audio] == list(range(len(audio)))
    assert decode_wire_audio(rec.audio(), 48000) == "hello how can i help you"
    assert is_subsequence(["listening", "hearing", "thinking", "speaking", "listening"],
                          rec.states()), rec.states()
    assert host.state == "listening"
    assert len(host.latency_history) == 1 and host.latency_history[0]["turn_id"] == 1
    # tts_finished = all audio sent; the reply enters the conversation once played
    await rec.wait_for(lambda: len(host.conversation()) == 2)
    assert host.conversation() == [
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "Hello! How can I help you?"}]


async def test_the_engine_resamples_microphone_audio_of_any_format(host: EngineHost) -> None:
    rec = Recorder(host)
    await host.start()
    pcm = speech("hi", tail_s=0.8)
    mono48 = as_mic(pcm, 48000, channels=1)
    int16_22k = (as_mic(pcm, 22050, channels=1) * 32767).astype(np.int16)
    await feed(host, mono48, 48000)
    await rec.wait_action("tts_finished")
    await feed(host, int16_22k, 22050)
    await rec.wait_action("tts_finished", 2)
    assert [m.data["text"] for m in rec.of("finish_asr")] == ["hi", "hi"]


async def test_typed_text_is_answered(host: EngineHost) -> None:
    rec = Recorder(host)
    await host.start()
    await host.send_text("what time is it")
    await rec.wait_action("tts_finished")
    reply = rec.of("finish_resp")[0].data["text"]
    assert reply.startswith("It is ")
    assert is_subsequence(["listening", "thinking", "speaking", "listening"], rec.states())
    assert decode_wire_audio(rec.audio(), 48000).startswith("it is")
    await host.send_text("   ")  # nothing to say: nothing sent
    await asyncio.sleep(0.2)
    assert len(rec.of("finish_resp")) == 1


async def test_with_a_player_the_state_waits_for_the_drain(host: EngineHost) -> None:
    rec = Recorder(host)
    await host.start()
    host.playback_attached = True
    await host.send_text("hello")
    await rec.wait_action("tts_finished")
    await asyncio.sleep(0.1)
    assert host.state == "speaking"  # the speaker is still playing
    for m in rec.of("audio"):
        host.chunk_played(m.chunk_index)
    host.playback_drained()
    await rec.wait_for(lambda: host.state == "listening")


# --------------------------------------------------------------------------- mute / PTT
async def test_muted_audio_is_dropped(host: EngineHost) -> None:
    rec = Recorder(host)
    await host.start()
    host.set_muted(True)
    assert host.muted and host.state == "muted"
    await feed(host, as_mic(speech("hello there", tail_s=0.8)))
    await asyncio.sleep(0.3)
    assert "update_asr" not in rec.actions() and "finish_asr" not in rec.actions()
    assert not rec.of("speech_level")  # the engine heard nothing at all
    host.set_muted(False)
    assert host.state == "listening"
    await feed(host, as_mic(speech("hello there", tail_s=0.8)))
    await rec.wait_action("finish_asr")


async def test_muting_while_speaking_ends_the_turn(host: EngineHost) -> None:
    rec = Recorder(host)
    await host.start()
    await feed(host, as_mic(np.concatenate([silence(0.1), tones("hello there")])))
    await rec.wait_for(lambda: host.state == "hearing")
    host.set_muted(True)
    await rec.wait_action("finish_asr")
    assert rec.of("finish_asr")[0].data["text"] == "hello there"
    await rec.wait_action("tts_finished")
    assert host.state == "muted"  # the reply is over, the microphone still muted


async def test_push_to_talk_without_a_server_vad() -> None:
    host = EngineHost(tone_config(vad=None))
    rec = Recorder(host)
    try:
        await host.start()
        await host.push_to_talk(True)
        assert host.state == "hearing"
        await feed(host, as_mic(np.concatenate([silence(0.1), tones("hello there"),
                                                silence(0.1)])))
        await asyncio.sleep(0.1)
        assert "finish_asr" not in rec.actions()  # no VAD: nothing ends the turn but PTT
        await host.push_to_talk(False)
        await rec.wait_action("finish_asr")
        assert rec.of("finish_asr")[0].data["text"] == "hello there"
        await rec.wait_action("tts_finished")
        assert host.state == "listening"
    finally:
        await host.stop()


# --------------------------------------------------------------------------- conversations
async def _stored_exchange(host: EngineHost, rec: Recorder, store: Store) -> str:
    """Start ``host`` and have one exchange, stored; returns its session id."""
    await host.start()
    first = host.session_id
    await host.send_text("hello")
    await rec.wait_action("tts_finished")
    await rec.wait_for(lambda: len(store.conversations.messages(first)) == 2)
    return first


async def test_conversations_are_stored_and_reopened(store: Store) -> None:
    host = EngineHost(tone_config(), store=store)
    rec = Recorder(host)
    try:
        first = await _stored_exchange(host, rec, store)
        second = await host.new_conversation()
        assert second != first and host.conversation() == []
        assert host.state == "listening"

        assert await host.open_conversation(first) == first
        attached = rec.of("session_attached")[-1].data
        assert attached["session_id"] == first
        assert [m["content"] for m in attached["messages"]] == [
            "hello", "Hello! How can I help you?"]
        assert host.conversation() == attached["messages"]
        # the empty second conversation was not kept
        assert {s.id for s in store.conversations.list_sessions(None)} == {first}
        with pytest.raises(EngineError):
            await host.open_conversation("nosuchsession")
    finally:
        await host.stop()


async def test_a_conversation_left_before_its_row_is_made_is_not_kept(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow database: the new conversation's row is still being made when the user
    goes back to the first one; the empty conversation must not stay in the list."""
    create = store.conversations.create_session

    def slow_create(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return create(*args, **kwargs)

    host = EngineHost(tone_config(), store=store)
    rec = Recorder(host)
    try:
        first = await _stored_exchange(host, rec, store)
        monkeypatch.setattr(store.conversations, "create_session", slow_create)
        await host.new_conversation()
        assert await host.open_conversation(first) == first
        await asyncio.sleep(0.8)  # (a row made late would be there by now)
        assert {s.id for s in store.conversations.list_sessions(None)} == {first}
    finally:
        await host.stop()


async def test_without_a_store_nothing_is_reopened_or_served(host: EngineHost) -> None:
    await host.start()
    with pytest.raises(EngineError):
        await host.open_conversation("abc")
    with pytest.raises(EngineError, match="store"):
        await host.start_lan_server("127.0.0.1")


# --------------------------------------------------------------------------- LAN
async def test_lan_server_pairing_and_websocket(store: Store) -> None:
    host = EngineHost(tone_config(), store=store)
    try:
        await host.start()
        assert not store.users.has_users()
        url, code = await host.start_lan_server("127.0.0.1", 0)
        assert store.users.get_user_by_name("desktop") is not None  # made on first start
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert len(code) == 8 and code.isdigit()
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert host.lan_url == url
        with pytest.raises(EngineError, match="already"):
            await host.start_lan_server("127.0.0.1", 0)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/api/sessions")).status_code == 401  # login required
            response = await http.post("/api/auth/login/pairing", json={"code": code})
            assert response.status_code == 200, response.text
            token = response.json()["token"]
            again = await http.post("/api/auth/login/pairing", json={"code": code})
            assert again.status_code == 401  # a code works once

        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:  # no token
            refused = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert refused == {"action": "error", "data": {
                "code": "unauthorized", "message": "Authentication required."}}

        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first["action"] == "session_info"
            await ws.send(json.dumps({"action": "text_input", "data": {"text": "hello"}}))
            actions = []
            while "tts_finished" not in actions:
                msg = await asyncio.wait_for(ws.recv(), 5)
                if isinstance(msg, str):
                    actions.append(json.loads(msg)["action"])
            assert "finish_resp" in actions
        # the desktop session is unaffected by the LAN client
        assert host.state == "listening"

        await host.stop_lan_server()
        assert host.lan_url is None
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as http:
                await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        # a second start works, with a new code
        url2, code2 = await host.start_lan_server("127.0.0.1", 0)
        assert code2 != code or url2 != url
    finally:
        await host.stop()
    assert host.lan_url is None
