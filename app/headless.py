"""Headless mode (``python -m app --no-window``): one exchange without a window.

* ``--input-wav FILE``: the microphone is the file, fed in real time (any rate/channels;
  the engine resamples once); silence follows the file so the turn can end.
* without it: the real microphone (LIVE mode) on the configured / default input device.
* ``--text "..."``: a typed turn (with or without audio input).
* ``--output-wav FILE``: everything played, as PCM16 mono at the output rate (24 kHz
  when the input is a file, the device's rate in live mode).

The run ends after the reply: when the input is over (file played, text sent, or — live —
the first reply), a reply has finished playing (``tts_finished`` and the player drained)
and the engine is back to listening. Exit codes: 0 success, 1 no reply / engine failure,
2 usage or file errors, 4 timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from app.audio.devices import cancel_task
from app.audio.supervised import DeviceStatus
from app.engine import EngineHost, EngineMessage, EngineStateChanged, ServerMessage, Shown
from xtalk.registry import ConfigError

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 4
FILE_OUTPUT_RATE = 24000
FEED_BLOCK_S = 0.02
AFTER_INPUT_TIMEOUT_S = 60.0


class HeadlessRun:
    """One headless exchange (see the module docstring)."""

    def __init__(self, config: dict[str, Any], *, input_wav: str | None = None,
                 output_wav: str | None = None, text: str | None = None,
                 input_device: str | None = None, output_device: str | None = None,
                 timeout: float = AFTER_INPUT_TIMEOUT_S, out: TextIO | None = None) -> None:
        self.config = config
        self.input_wav = input_wav
        self.output_wav = output_wav
        self.text = text
        self.input_device = input_device
        self.output_device = output_device
        self.timeout = float(timeout)
        self.out = out or sys.stdout
        self.live = input_wav is None
        self.played: list[np.ndarray] = []
        self.replies_finished = 0
        self.turn_in_progress = False
        self._changed: asyncio.Event | None = None
        self.errors: list[str] = []

    @property
    def echo_gate(self) -> bool:
        """Whether the echo canceller runs: only on a live microphone. A file never hears
        the speaker, and with no echo to learn the canceller could hold out a user who
        speaks over the first reply (docs/echo.md, "No echo at all")."""
        return self.live

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _on_message(self, message: EngineMessage) -> None:
        match message:
            case ServerMessage(action="finish_asr"):
                self._print(f"you: {message.text()}")
            case ServerMessage(action="turn_merged"):  # the whole request, in one
                self._print(f"you (went on): {message.text()}")
            case ServerMessage(action="finish_resp"):
                self._print(f"assistant: {message.text()}")
            case ServerMessage(action="error"):
                problem = message.text("message") or message.text("code")
                self.errors.append(problem)
                self._print(f"error: {problem}")
            case EngineStateChanged(state=state, detail=detail):
                logger.info("state: %s %s", state, detail)
                if state is Shown.ERROR:
                    self.errors.append(detail or "engine error")
        if self._changed is not None:
            self._changed.set()

    def _on_played(self, block: np.ndarray, _start: float) -> None:
        self.played.append(block.copy())

    async def run(self) -> int:
        from xtalk.client.audio_io import AudioFileError, read_wav, write_wav

        samples: np.ndarray | None = None
        rate = 0
        problem = output_problem(self.output_wav)
        if problem is not None:
            print(f"xtalk-app: {problem}", file=sys.stderr)
            return EXIT_USAGE
        if self.input_wav is not None:
            try:
                samples, rate = read_wav(self.input_wav)
            except AudioFileError as exc:
                print(f"xtalk-app: {exc}", file=sys.stderr)
                return EXIT_USAGE
        from app.audio.playback import Speaker, output_rate

        out_rate = FILE_OUTPUT_RATE if not self.live else output_rate(self.output_device)
        engine = EngineHost(self.config, output_sample_rate=out_rate,
                            echo_gate=self.echo_gate)
        self._changed = asyncio.Event()
        engine.add_listener(self._on_message)
        speaker = Speaker(engine, self.output_device, virtual=not self.live,
                          on_audio=self._on_played,
                          on_status=lambda s, d: logger.info("speaker %s %s", s, d))
        microphone = None
        try:
            try:
                await engine.start()
            except ConfigError as exc:
                print(f"xtalk-app: bad configuration: {exc}", file=sys.stderr)
                return EXIT_USAGE
            except Exception as exc:
                print(f"xtalk-app: the engine could not start: {exc}", file=sys.stderr)
                return EXIT_ERROR
            await speaker.start()
            if self.live:
                from app.audio.capture import Microphone

                microphone = Microphone(engine.submit_microphone, self.input_device,
                                        on_status=self._mic_status)
                await microphone.start()
            code = await self._exchange(engine, speaker, samples, rate)
        finally:
            if microphone is not None:
                await microphone.stop()
            await speaker.stop()
            await engine.stop()
        if self.output_wav is not None:
            pcm = np.concatenate(self.played) if self.played else np.zeros(0, np.float32)
            from xtalk.audio.pcm import float_to_int16

            try:
                write_wav(self.output_wav, float_to_int16(pcm), out_rate)
            except AudioFileError as exc:
                print(f"xtalk-app: {exc}", file=sys.stderr)
                return EXIT_USAGE
        return code

    def _mic_status(self, status: str, detail: str) -> None:
        if status in (DeviceStatus.LOST, DeviceStatus.NOT_FOUND, DeviceStatus.UNAVAILABLE):
            print(f"xtalk-app: microphone {status}: {detail}", file=sys.stderr)

    async def _exchange(self, engine: EngineHost, speaker: Any, samples: np.ndarray | None,
                        rate: int) -> int:
        feeder = None
        input_done = asyncio.Event()
        if samples is not None:
            feeder = asyncio.get_running_loop().create_task(
                self._feed(engine, samples, rate, input_done))
        if self.text:
            await engine.send_text(self.text)
        if samples is None:
            input_done.set()
        try:
            return await self._wait_for_reply(engine, speaker, input_done)
        finally:
            await cancel_task(feeder)

    async def _feed(self, engine: EngineHost, samples: np.ndarray, rate: int,
                    done: asyncio.Event) -> None:
        """The file in real time, then silence until cancelled."""
        block = max(1, round(rate * FEED_BLOCK_S))
        data = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else \
            samples.astype(np.float32) / (2.0 ** 31 if samples.dtype == np.int32 else 1.0)
        start = time.monotonic()
        sent = 0
        for i in range(0, data.shape[0], block):
            engine.submit_microphone(np.ascontiguousarray(data[i:i + block]), rate)
            sent += min(block, data.shape[0] - i)
            await _sleep_until(start + sent / rate)
        done.set()
        silence = np.zeros((block, data.shape[1] if data.ndim > 1 else 1), dtype=np.float32)
        while True:
            engine.submit_microphone(silence.copy(), rate)
            sent += block
            await _sleep_until(start + sent / rate)

    async def _wait_for_reply(self, engine: EngineHost, speaker: Any,
                              input_done: asyncio.Event) -> int:
        assert self._changed is not None
        finished_turns: set[Any] = set()
        saw_reply = False

        def on_message(message: EngineMessage) -> None:
            nonlocal saw_reply
            if message.action == "tts_finished":
                assert isinstance(message, ServerMessage)
                finished_turns.add(message.turn_id)
            elif message.action in ("start_tts", "finish_resp"):
                saw_reply = True

        engine.add_listener(on_message)
        deadline: float | None = None
        try:
            while True:
                if self.errors and engine.state == "error":
                    return EXIT_ERROR
                if input_done.is_set() and deadline is None:
                    deadline = time.monotonic() + self.timeout
                done = (input_done.is_set() or self.live) and finished_turns and saw_reply \
                    and engine.state in ("listening", "muted") and speaker.idle
                if done:
                    return EXIT_OK
                if deadline is not None and time.monotonic() > deadline:
                    print("xtalk-app: no reply within "
                          f"{self.timeout:.0f} s after the input", file=sys.stderr)
                    return EXIT_TIMEOUT
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.1)
        finally:
            engine.remove_listener(on_message)


def output_problem(path: str | None) -> str | None:
    """Why ``--output-wav path`` cannot be written (checked before the models load), or
    ``None``."""
    if path is None:
        return None
    target = Path(path).expanduser()
    folder = target.parent
    if target.is_dir():
        return f"{path}: is a folder, not a file"
    if not folder.is_dir():
        return f"{path}: cannot write (no folder {folder})"
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return f"{path}: cannot write (permission denied)"
    return None


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def run_headless(config: dict[str, Any], **kwargs: Any) -> int:
    """Run :class:`HeadlessRun` on a new event loop; returns the exit code."""
    return asyncio.run(HeadlessRun(config, **kwargs).run())


__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_TIMEOUT", "EXIT_USAGE", "HeadlessRun",
           "run_headless"]
