"""``xtalk-client``: talk to an Xtalk server from a terminal.

Live mode (default): the microphone is captured at its native rate, resampled once to
16 kHz PCM16 and streamed in 512-sample frames; the reply is resampled once to the
speaker's rate and played through a playback queue that follows the server's
pause/resume/stop. Use headphones: the microphone stays open while the reply plays, and
hearing itself would interrupt the assistant. Ctrl-C quits.

Scripted mode (no audio device needed): ``--input-wav FILE`` streams a WAV file (any
rate and channel count) in real time (``--speed X`` faster), then silence, until the
reply has been played (``--turns N``: the replies to N spoken turns; two turns the
server merges, because the speaker went on after a pause, count as one); ``--text
"question"`` types the question
instead. ``--output-wav FILE`` saves the audio the server played (PCM16 mono).

Exit codes: 0 done, 1 connection / protocol / file error, 2 bad arguments or no audio
device, 3 login or token refused, 4 timeout, 130 interrupted (scripted mode).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import numpy as np

from xtalk.audio.pcm import float_to_int16
from xtalk.client.audio_io import AudioFileError, AudioUplink, read_wav, write_wav
from xtalk.client.playback import BLOCK_SECONDS, DeviceSink, PlaybackController, VirtualSink
from xtalk.client.session import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    ClientError,
    ClientSession,
    Console,
    check_ws_url,
    login,
    open_connection,
    session_url,
)

DEFAULT_OUTPUT_WAV_RATE = 24000  # when the server sent no audio
INPUT_BLOCK_SECONDS = 0.02
TIMEOUT_MARGIN_S = 30.0
# After the whole input file was sent: how long to wait for any transcript before saying
# that no speech was recognised (endpoint silence + a final ASR decode on a busy CPU).
NO_SPEECH_WAIT_S = 10.0


# --------------------------------------------------------------------------- arguments
def _device(value: str) -> int | str:
    return int(value) if value.strip().lstrip("-").isdigit() else value


def _positive(kind: type) -> Any:
    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
        return number
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xtalk-client", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="the server's WebSocket, e.g. ws://127.0.0.1:8765/ws")
    auth = parser.add_argument_group("authentication")
    auth.add_argument("--token", help="access token (default: $XTALK_TOKEN)")
    auth.add_argument("--user", help="log in as this user first (POST /api/auth/login)")
    auth.add_argument("--password", help="password for --user (default: $XTALK_PASSWORD, "
                                         "or asked on the terminal)")
    auth.add_argument("--cafile", help="CA certificate(s) to trust for wss:// / https://")
    parser.add_argument("--session", metavar="SESSION_ID", help="attach to this session")
    live = parser.add_argument_group("live mode")
    live.add_argument("--input-device", type=_device, metavar="N",
                      help="microphone (index or name, see --list-devices)")
    live.add_argument("--output-device", type=_device, metavar="N",
                      help="speaker (index or name)")
    live.add_argument("--list-devices", action="store_true", help="list audio devices, exit")
    scripted = parser.add_argument_group("scripted mode")
    scripted.add_argument("--input-wav", metavar="FILE", help="speak this audio file")
    scripted.add_argument("--text", metavar="QUESTION", help="type this question instead")
    scripted.add_argument("--output-wav", metavar="FILE",
                          help="save the audio the server played (PCM16 mono WAV)")
    scripted.add_argument("--output-rate", type=_positive(int), metavar="HZ",
                          help="sample rate of --output-wav (default: the server's)")
    scripted.add_argument("--speed", type=_positive(float), default=1.0,
                          help="stream and play this many times faster than real time")
    scripted.add_argument("--turns", type=_positive(int), default=1,
                          help="stop after the replies to this many spoken turns "
                               "(default 1; two the server merges count as one)")
    scripted.add_argument("--timeout", type=_positive(float), metavar="S",
                          help="give up after S seconds (default: the input's duration "
                               f"+ {TIMEOUT_MARGIN_S:.0f} s)")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.list_devices and not args.url:
        parser.error("the server URL is required (e.g. ws://127.0.0.1:8765/ws)")
    if args.token and args.user:
        parser.error("give either --token or --user, not both")
    if args.password is not None and not args.user:
        parser.error("--password needs --user")
    if args.input_wav and args.text is not None:
        parser.error("give either --input-wav or --text, not both")
    if args.output_wav and not args.input_wav and args.text is None:
        parser.error("--output-wav needs --input-wav or --text")
    if args.text is not None and not args.text.strip():
        parser.error("--text is empty")
    args.scripted = bool(args.input_wav or args.text is not None)
    return args


def resolve_token(args: argparse.Namespace) -> str | None:
    if args.token:
        return args.token
    if args.user:
        password = args.password if args.password is not None else os.environ.get(
            "XTALK_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise ClientError("--user needs --password (or $XTALK_PASSWORD)", EXIT_USAGE)
            password = getpass.getpass(f"Password for {args.user}: ")
        return login(args.url, args.user, password, cafile=args.cafile)
    return os.environ.get("XTALK_TOKEN") or None


# --------------------------------------------------------------------------- helpers
def _install_interrupt(stop: asyncio.Event) -> bool:
    """Ctrl-C sets ``stop`` (where the loop supports signal handlers)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


async def _wait_for(session: ClientSession, condition: Any) -> None:
    while not condition():
        session.changed.clear()
        await session.changed.wait()


async def _run_session(session: ClientSession, extra: list[Awaitable[Any]],
                       goal: Awaitable[Any] | None, stop: asyncio.Event,
                       timeout: float | None) -> str:
    """Run the reader, writer and ``extra`` tasks until ``goal`` completes (``"done"``),
    ``stop`` is set (``"stopped"``) or the timeout passes (``"timeout"``). Errors of the
    connection raise :class:`ClientError`."""
    reader = asyncio.ensure_future(session.reader())
    writer = asyncio.ensure_future(session.writer())
    others = [asyncio.ensure_future(aw) for aw in extra]
    goal_task = asyncio.ensure_future(goal) if goal is not None else None
    stop_task = asyncio.ensure_future(stop.wait())
    watched = {reader, writer, stop_task, *others}
    if goal_task is not None:
        watched.add(goal_task)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = await asyncio.wait(watched, timeout=remaining,
                                         return_when=asyncio.FIRST_COMPLETED)
            if goal_task is not None and goal_task in done:
                goal_task.result()
                return "done"
            if stop_task in done:
                return "stopped"
            if not done:
                return "timeout"
            finished = {t for t in done if t in others and t.exception() is None}
            if finished != done:
                break
            watched -= finished  # a helper that simply finished (e.g. the typed question)
        if writer in done and writer.exception() is not None and not reader.done():
            # the connection broke while sending: the reader knows why
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 2.0)
        for task in (reader, writer, *others):
            if task.done() and task.exception() is not None:
                exc = task.exception()
                if isinstance(exc, ClientError):
                    raise exc
        if reader.done():
            reader.result()
        for task in (writer, *others):
            if task.done() and task.exception() is not None:
                raise ClientError(f"connection failed: {task.exception()}")
        raise ClientError("the session ended unexpectedly")
    finally:
        helpers = [t for t in (stop_task, goal_task, *others) if t is not None and not t.done()]
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        if not writer.done():  # deliver what is queued (e.g. tts_playback_finished)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.outbox.join(), 2.0)
        for task in (reader, writer):
            task.cancel()
        await asyncio.gather(reader, writer, return_exceptions=True)
        await session.close()


# --------------------------------------------------------------------------- scripted mode
async def _stream_file(session: ClientSession, samples: np.ndarray, rate: int,
                       speed: float) -> None:
    """Stream ``samples`` (frames, channels) in real time / ``speed``, then silence."""
    await session.ready.wait()
    uplink = AudioUplink(rate, session.send_audio)
    block = max(1, round(rate * INPUT_BLOCK_SECONDS))
    silence = np.zeros((block, samples.shape[1]), dtype=np.float32)
    start = time.monotonic()
    position = 0
    n = 0
    while True:
        delay = start + n * block / rate / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = samples[position:position + block] if position < len(samples) else silence
        position += block
        n += 1
        uplink.feed(chunk)
        if position >= len(samples) and not session.input_done.is_set():
            session.mark_input_done()


async def _expect_speech(session: ClientSession, path: str, seconds: float) -> None:
    """Fail clearly when the server recognised nothing in the whole input file."""
    await session.input_done.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_wait_for(session, lambda: session.speech_recognised),
                               NO_SPEECH_WAIT_S)
    if not session.speech_recognised:
        heard = "only noise was heard" if session.noise_heard else "nothing was heard"
        raise ClientError(f"no speech was recognised in {path} ({seconds:.2f} s of audio, "
                          f"{heard}; is it speech, loud enough, and at the sample rate its "
                          "header announces?)", EXIT_ERROR)


async def _type_text(session: ClientSession, text: str) -> None:
    await session.ready.wait()
    session.console.line(f"You (typed): {text}")
    session.send_json({"action": "text_input", "data": {"text": text}})
    session.mark_input_done()


async def run_scripted(args: argparse.Namespace, console: Console, url: str) -> int:
    samples = None
    rate = 0
    if args.input_wav:
        try:
            samples, rate = read_wav(args.input_wav)
        except AudioFileError as exc:
            raise ClientError(str(exc)) from None
        if len(samples) == 0:
            raise ClientError(f"{args.input_wav}: contains no audio (0 samples)")
    timeout = args.timeout
    if timeout is None:
        duration = len(samples) / rate / args.speed if samples is not None else 0.0
        timeout = duration + TIMEOUT_MARGIN_S
    played: list[np.ndarray] = []
    session: ClientSession | None = None

    def send(message: dict[str, Any]) -> None:
        if session is not None:
            session.send_json(message)

    controller = PlaybackController(send, output_rate=args.output_rate,
                                    on_audio=lambda audio, _start: played.append(audio))
    ws = await open_connection(url, cafile=args.cafile)
    session = ClientSession(ws, console, controller)
    sink = VirtualSink(controller, speed=args.speed)
    controller.sink = sink
    helpers: list[Awaitable[Any]] = (
        [_stream_file(session, samples, rate, args.speed),
         _expect_speech(session, args.input_wav, len(samples) / rate)]
        if samples is not None else [_type_text(session, args.text)])
    # the reply to the whole input: a reply cut off while the file is still being spoken
    # (the speaker paused, then went on) does not end the run
    goal = _wait_for(session, lambda: session.input_done.is_set()
                     and session.replies_finished >= session.replies_expected(args.turns)
                     and session.latest_reply_complete and controller.idle)
    stop = asyncio.Event()
    interruptible = _install_interrupt(stop)
    try:
        outcome = await _run_session(session, [*helpers, sink.run()], goal, stop, timeout)
    finally:
        if interruptible:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        if args.output_wav:
            _save(args.output_wav, played, controller.output_rate, console)
    if outcome == "timeout":
        raise ClientError(f"timed out after {timeout:g} s waiting for the reply "
                          f"({session.replies_finished} of "
                          f"{session.replies_expected(args.turns)} received)",
                          EXIT_TIMEOUT)
    if outcome == "stopped":
        console.error("interrupted")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _save(path: str, played: list[np.ndarray], rate: int | None, console: Console) -> None:
    audio = np.concatenate(played) if played else np.zeros(0, dtype=np.float32)
    rate = rate or DEFAULT_OUTPUT_WAV_RATE
    try:
        write_wav(path, float_to_int16(audio), rate)
    except AudioFileError as exc:
        raise ClientError(str(exc)) from None
    console.status(f"wrote {path} ({audio.size / rate:.2f} s at {rate} Hz)")


# --------------------------------------------------------------------------- live mode
def import_sounddevice() -> Any:
    """Import ``sounddevice``, turning every way it can fail into a clear message.

    Without ALSA's configuration (Debian: ``libasound2-data``) the import aborts the whole
    process, so that case is probed in a child process first.
    """
    hint = "on Debian/Ubuntu: apt-get install libportaudio2 libasound2-data"
    if (sys.platform.startswith("linux") and "sounddevice" not in sys.modules
            and not os.environ.get("ALSA_CONFIG_PATH")
            and not Path("/usr/share/alsa/alsa.conf").exists()):
        try:
            probe = subprocess.run([sys.executable, "-c", "import sounddevice"],
                                   capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            probe = None
        if probe is None or probe.returncode < 0:
            raise ClientError(f"audio is unavailable: loading PortAudio/ALSA failed ({hint}); "
                              f"{NO_DEVICE_HINT}", EXIT_USAGE)
    try:
        import sounddevice
    except OSError:
        raise ClientError(f"audio is unavailable: the PortAudio library was not found "
                          f"({hint}); {NO_DEVICE_HINT}", EXIT_USAGE) from None
    except ImportError:
        raise ClientError("audio is unavailable: the sounddevice package is not installed "
                          f"(pip install sounddevice); {NO_DEVICE_HINT}", EXIT_USAGE) from None
    return sounddevice


NO_DEVICE_HINT = ("scripted mode needs no audio device: --input-wav FILE [--output-wav FILE] "
                  "or --text QUESTION")


def pick_device(sd: Any, requested: int | str | None, kind: str) -> dict[str, Any]:
    """The device to use for ``kind`` (``"input"`` / ``"output"``), with its ``index``."""
    label = "microphone" if kind == "input" else "speaker"
    key = f"max_{kind}_channels"
    try:
        devices = [dict(d, index=i) for i, d in enumerate(sd.query_devices())]
    except Exception as exc:  # PortAudio errors
        raise ClientError(f"cannot list audio devices: {exc}", EXIT_USAGE) from None
    if not devices:
        raise ClientError(f"no audio device found (no sound card?); {NO_DEVICE_HINT}",
                          EXIT_USAGE)
    if requested is not None:
        try:
            info = dict(sd.query_devices(requested, kind))
        except (ValueError, sd.PortAudioError) as exc:
            raise ClientError(f"{label} {requested!r} is not usable: {exc} "
                              "(see --list-devices)", EXIT_USAGE) from None
        if "index" not in info:
            info["index"] = next((d["index"] for d in devices if d["name"] == info["name"]),
                                 requested)
        return info
    try:
        info = dict(sd.query_devices(kind=kind))
        if "index" not in info:
            info["index"] = sd.default.device[0 if kind == "input" else 1]
    except Exception:  # no default device
        info = next((d for d in devices if d.get(key, 0) > 0), None)
        if info is None:
            raise ClientError(f"no audio {label} found; {NO_DEVICE_HINT}", EXIT_USAGE) from None
    if info.get(key, 0) <= 0:
        raise ClientError(f"no audio {label} found; {NO_DEVICE_HINT}", EXIT_USAGE)
    return info


def list_devices(console: Console) -> int:
    sd = import_sounddevice()
    devices = sd.query_devices()
    if len(devices) == 0:
        console.error("no audio devices found (no sound card?)")
        return EXIT_USAGE
    console.line(str(devices))
    return EXIT_OK


def _open_stream(sd: Any, kind: str, info: dict[str, Any], rate: int, blocksize: int,
                 callback: Any) -> Any:
    """Open an input or output stream, mono if the device allows."""
    factory = sd.InputStream if kind == "input" else sd.OutputStream
    max_channels = int(info.get(f"max_{kind}_channels", 1))
    error: Exception | None = None
    for channels in dict.fromkeys((1, min(2, max_channels), max_channels)):
        try:
            return factory(device=info["index"], samplerate=rate, channels=channels,
                           dtype="float32", blocksize=blocksize, callback=callback)
        except Exception as exc:  # PortAudioError, ValueError
            error = exc
    label = "microphone" if kind == "input" else "speaker"
    raise ClientError(f"cannot open the {label} {info.get('name')!r}: {error}", EXIT_USAGE)


async def run_live(args: argparse.Namespace, console: Console, url: str, sd: Any,
                   input_info: dict[str, Any], output_info: dict[str, Any],
                   stop: asyncio.Event | None = None) -> int:
    """Microphone → server → speaker until Ctrl-C (or ``stop``) or the server leaves."""
    loop = asyncio.get_running_loop()
    in_rate = int(input_info["default_samplerate"])
    out_rate = int(output_info["default_samplerate"])
    session: ClientSession | None = None

    def send_json(message: dict[str, Any]) -> None:
        if session is not None:
            session.send_json(message)

    def send_frame(frame: bytes) -> None:
        if session is not None:
            session.send_audio(frame)

    controller = PlaybackController(send_json, output_rate=out_rate)
    sink = DeviceSink(controller, loop, block_frames=max(1, round(out_rate * BLOCK_SECONDS)))
    controller.sink = sink
    uplink = AudioUplink(in_rate, send_frame)

    def on_input(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio thread: hand the block over, nothing else
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(uplink.feed, indata.copy())

    streams: list[Any] = []
    try:
        streams.append(_open_stream(sd, "input", input_info, in_rate,
                                    max(1, round(in_rate * INPUT_BLOCK_SECONDS)), on_input))
        streams.append(_open_stream(sd, "output", output_info, out_rate, sink.block_frames,
                                    sink.callback))
        ws = await open_connection(url, cafile=args.cafile)
        session = ClientSession(ws, console, controller)
        if stop is None:
            stop = asyncio.Event()
            _install_interrupt(stop)

        async def start_audio() -> None:
            await session.ready.wait()
            for stream in streams:
                stream.start()
            console.status(f"listening on {input_info.get('name')} ({in_rate} Hz), "
                           f"playing on {output_info.get('name')} ({out_rate} Hz); "
                           "Ctrl-C quits")
            await asyncio.Event().wait()

        await _run_session(session, [start_audio()], None, stop, None)
        console.status("bye")
        return EXIT_OK
    finally:
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.abort()
            with contextlib.suppress(Exception):
                stream.close()


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    try:
        if args.list_devices:
            return list_devices(console)
        check_ws_url(args.url)
        if args.scripted:
            token = resolve_token(args)
            url = session_url(args.url, token, args.session)
            return asyncio.run(run_scripted(args, console, url))
        sd = import_sounddevice()
        input_info = pick_device(sd, args.input_device, "input")
        output_info = pick_device(sd, args.output_device, "output")
        token = resolve_token(args)
        url = session_url(args.url, token, args.session)
        return asyncio.run(run_live(args, console, url, sd, input_info, output_info))
    except ClientError as exc:
        console.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        console.status("interrupted" if args.scripted else "bye")
        return EXIT_INTERRUPTED if args.scripted else EXIT_OK


__all__ = [
    "EXIT_AUTH", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TIMEOUT", "EXIT_USAGE",
    "build_parser", "main", "pick_device", "run_live", "run_scripted",
]


if __name__ == "__main__":
    sys.exit(main())
