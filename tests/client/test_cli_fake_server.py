"""``xtalk-client`` against a scripted WebSocket server: the playback messages it sends
back (pause, resume, stop), which replies count for ``--turns``, server errors, Ctrl-C and
an auth close — as a user runs it, the client as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

import numpy as np
import pytest
import websockets
from pcm_wav import read_wav, write_wav

from xtalk.client import cli
from xtalk.models import tone_code

TRACEBACK = "Traceback"


class FakeServer:
    """A scripted WebSocket server that records what the client sends."""

    def __init__(self, script) -> None:
        self.script = script
        self.received: list[dict] = []
        self.audio_frames = 0
        self.port = 0

    async def _handler(self, ws) -> None:
        async def read() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    if isinstance(message, bytes):
                        self.audio_frames += 1
                    else:
                        self.received.append(json.loads(message))

        reader = asyncio.create_task(read())
        script = asyncio.create_task(self.script(self, ws))
        try:
            await reader  # until the client closes
        finally:
            reader.cancel()
            script.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await script  # a failing script fails the test

    def actions(self) -> list[str]:
        return [m["action"] for m in self.received]

    @contextlib.asynccontextmanager
    async def running(self):
        async with websockets.serve(self._handler, "127.0.0.1", 0) as srv:
            self.port = next(iter(srv.sockets)).getsockname()[1]
            yield self


async def send(ws, action: str, **data) -> None:
    await ws.send(json.dumps({"action": action, "data": data}))


async def send_chunk(ws, pcm: np.ndarray, index: int, turn: int, rate: int = 24000) -> None:
    await send(ws, "tts_chunk_meta", chunk_index=index, turn_id=turn, sample_rate=rate)
    await ws.send(pcm.astype("<i2").tobytes())


async def run_client_async(*args: str, timeout: float = 30) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xtalk.client.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(), err.decode()


async def test_pause_holds_the_reply_and_resume_plays_it_all_once(tmp_path):
    c0 = tone_code.encode("abc", 24000)
    c1 = tone_code.encode("def", 24000)
    seen_while_paused: list[str] = []

    async def script(server: FakeServer, ws) -> None:
        await send(ws, "session_info", session_id="s1")
        await send(ws, "start_tts", turn_id=1)
        await send(ws, "update_resp", text="abc", turn_id=1)
        await send_chunk(ws, c0, 0, 1)
        await send(ws, "pause_tts", turn_id=1)
        await asyncio.sleep(0.6)  # longer than chunk 0 lasts
        seen_while_paused.extend(server.actions())
        await send(ws, "resume_tts", turn_id=1)
        await send_chunk(ws, c1, 1, 1)
        await send(ws, "finish_resp", text="abc def", turn_id=1)
        await send(ws, "tts_finished", turn_id=1)

    out = tmp_path / "out.wav"
    async with FakeServer(script).running() as server:
        code, stdout, stderr = await run_client_async(
            f"ws://127.0.0.1:{server.port}/ws", "--text", "hi", "--output-wav", str(out))
        await asyncio.sleep(0.1)
    assert code == 0, stderr
    assert "Assistant: abc def" in stdout
    assert "tts_chunk_played" not in seen_while_paused
    assert server.actions() == ["text_input", "tts_chunk_played", "tts_chunk_played",
                                "tts_playback_finished"]
    assert [m["data"].get("chunk_index") for m in server.received[1:3]] == [0, 1]
    assert server.received[0]["data"] == {"text": "hi"}
    pcm, rate = read_wav(out)
    assert rate == 24000
    np.testing.assert_array_equal(pcm, np.concatenate([c0, c1]))  # nothing lost or repeated


async def test_stop_drops_the_queue_and_only_unstopped_replies_count(tmp_path):
    long = tone_code.encode("a" * 40, 24000)  # 2 s
    short = tone_code.encode("ok", 24000)

    async def script(server: FakeServer, ws) -> None:
        await send(ws, "session_info", session_id="s1")
        await send(ws, "start_tts", turn_id=1)
        await send_chunk(ws, long, 0, 1)
        await asyncio.sleep(0.1)
        await send(ws, "stop_tts", turn_id=1)
        await send(ws, "tts_finished", turn_id=1)
        await send(ws, "finish_asr", text="wait", turn_id=2)
        await send(ws, "start_tts", turn_id=2)
        await send_chunk(ws, short, 1, 2)
        await send(ws, "tts_finished", turn_id=2)

    out = tmp_path / "out.wav"
    async with FakeServer(script).running() as server:
        code, stdout, stderr = await run_client_async(
            f"ws://127.0.0.1:{server.port}/ws", "--text", "hi", "--output-wav", str(out))
    assert code == 0, stderr
    assert "You: wait" in stdout
    played = [m["data"]["chunk_index"] for m in server.received
              if m["action"] == "tts_chunk_played"]
    assert played == [1]
    assert server.actions().count("tts_playback_finished") == 2
    pcm, _ = read_wav(out)
    assert pcm.size < long.size // 2 + short.size  # the stopped reply was cut short
    np.testing.assert_array_equal(pcm[-short.size:], short)


@pytest.mark.parametrize("turns", ["1", "2"])  # 2: the cut-off reply answered a turn
async def test_a_reply_cut_off_while_the_file_plays_does_not_end_the_run(tmp_path, turns):
    # The speaker pauses mid-file: the server answers the first part, sends all of that
    # reply's audio (tts_finished) and then stops it when the speaker goes on. The run
    # must wait for the reply to the whole file, not end at the cut-off one.
    long = tone_code.encode("a" * 40, 24000)  # 2 s
    short = tone_code.encode("ok", 24000)

    async def script(server: FakeServer, ws) -> None:
        await send(ws, "session_info", session_id="s1")
        await send(ws, "finish_asr", text="first part", turn_id=1)
        await send(ws, "start_tts", turn_id=1)
        await send_chunk(ws, long, 0, 1)
        await send(ws, "tts_finished", turn_id=1)  # all sent, still playing
        await asyncio.sleep(0.3)
        await send(ws, "stop_tts", turn_id=1)  # the speaker went on
        await asyncio.sleep(1.0)
        await send(ws, "finish_asr", text="second part", turn_id=2)
        await send(ws, "start_tts", turn_id=2)
        await send_chunk(ws, short, 1, 2)
        await send(ws, "tts_finished", turn_id=2)

    write_wav(tmp_path / "in.wav", np.zeros(8000, np.int16), 16000)  # 0.5 s
    out = tmp_path / "out.wav"
    async with FakeServer(script).running() as server:
        code, stdout, stderr = await run_client_async(
            f"ws://127.0.0.1:{server.port}/ws", "--input-wav", str(tmp_path / "in.wav"),
            "--output-wav", str(out), "--turns", turns, "--timeout", "20")
    assert code == 0, stderr
    assert "You: second part" in stdout
    pcm, _ = read_wav(out)
    np.testing.assert_array_equal(pcm[-short.size:], short)


async def test_turns_the_server_merges_count_as_one(tmp_path):
    # "--turns 2" for a file spoken with one long pause: the server answered the first
    # part, then merged it into the rest (turn_merged) and answered the whole request.
    # One reply is all there will be: the run ends with it instead of timing out.
    short = tone_code.encode("ok", 24000)

    async def script(server: FakeServer, ws) -> None:
        await send(ws, "session_info", session_id="s1")
        await send(ws, "finish_asr", text="And so my fellow Americans", turn_id=1)
        await send(ws, "start_tts", turn_id=1)
        await send_chunk(ws, short, 0, 1)  # it had only begun: no tts_finished
        await send(ws, "stop_tts", turn_id=1)
        await send(ws, "finish_asr", text="ask not", turn_id=2)
        await send(ws, "turn_merged", turn_id=1, into_turn_id=2,
                   text="And so my fellow Americans, ask not")
        await send(ws, "start_tts", turn_id=2)
        await send_chunk(ws, short, 1, 2)
        await send(ws, "tts_finished", turn_id=2)

    write_wav(tmp_path / "in.wav", np.zeros(8000, np.int16), 16000)
    async with FakeServer(script).running() as server:
        code, stdout, stderr = await run_client_async(
            f"ws://127.0.0.1:{server.port}/ws", "--input-wav", str(tmp_path / "in.wav"),
            "--turns", "2", "--timeout", "20")
    assert code == 0, stderr
    assert "You: And so my fellow Americans, ask not" in stdout
    assert "the whole request" in stderr + stdout


async def test_server_errors_are_printed_and_a_silent_server_times_out():
    async def script(server: FakeServer, ws) -> None:
        await send(ws, "session_info", session_id="s1")
        await send(ws, "error", code="agent_unavailable", message="The model did not answer.")
        await asyncio.sleep(10)

    async with FakeServer(script).running() as server:
        code, _, stderr = await run_client_async(
            f"ws://127.0.0.1:{server.port}/ws", "--text", "hi", "--timeout", "1")
    assert code == cli.EXIT_TIMEOUT
    assert "server error [agent_unavailable]: The model did not answer." in stderr
    assert "timed out" in stderr
    assert TRACEBACK not in stderr


async def test_ctrl_c_exits_cleanly():
    async def script(server: FakeServer, ws) -> None:
        await send(ws, "session_info", session_id="s1")
        await asyncio.sleep(30)

    async with FakeServer(script).running() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "xtalk.client.cli", f"ws://127.0.0.1:{server.port}/ws",
            "--text", "hi", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert b"connected" in line
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == cli.EXIT_INTERRUPTED
    assert b"interrupted" in err and TRACEBACK.encode() not in err


async def test_a_ws_close_4401_is_an_auth_failure():
    async def script(server: FakeServer, ws) -> None:
        await send(ws, "error", code="unauthorized", message="Authentication required.")
        await ws.close(4401, "unauthorized")

    async with FakeServer(script).running() as server:
        code, _, stderr = await run_client_async(
            f"ws://127.0.0.1:{server.port}/ws", "--text", "hi")
    assert code == cli.EXIT_AUTH
    assert "authentication failed" in stderr and "4401" in stderr
    assert TRACEBACK not in stderr
