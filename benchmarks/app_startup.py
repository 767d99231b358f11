"""Desktop app cold start and memory: a fresh process to "listening", with the default models.

Each run starts a NEW Python process (nothing imported, nothing cached in the process; the
OS file cache is warm after the first run, as on a user's second launch) and measures, from
the moment the process is spawned:

* ``window``: the desktop app as users launch it — PySide6 ``QApplication`` (offscreen
  platform), the qasync loop, :class:`app.ui.main_window.MainWindow` shown and started, the
  engine state ``listening`` — with virtual audio (no sound card needed; the device path
  adds opening two PortAudio streams);
* ``engine``: the same without Qt — :class:`app.engine.EngineHost` with a virtual
  :class:`app.audio.playback.Speaker`, as the headless mode runs it.

Then one spoken turn: a Piper-synthesised question is fed as the microphone in real time,
the reply (scripted OpenAI-compatible server on loopback, instant) is spoken and played to
the end. RSS (``/proc/self/status`` VmRSS) is read when listening and after that turn;
VmHWM is the peak. Medians over ``--runs`` runs (≥ 5) are printed as a table.

    timeout 900 python benchmarks/app_startup.py --runs 5      # --modes window,engine
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is the weather like today?"
REPLY = "I cannot look outside, but I hope it is sunny where you are."
MODES = ("window", "engine")


# --------------------------------------------------------------------------- child side
def _memory_mb() -> dict[str, float]:
    values: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024.0
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        values = {"VmRSS": peak, "VmHWM": peak}
    return values


async def _one_turn(engine: Any, submit: Any, question_wav: str) -> tuple[float, float]:
    """Feed the question in real time; returns the engine's ``e2e_ms`` (end of speech →
    first reply audio) in seconds and the seconds from the end of the question to the
    whole reply synthesised (``tts_finished``; the caller then waits for it to be played)."""
    import numpy as np
    import soundfile

    audio, rate = soundfile.read(question_wav, dtype="float32")
    finished: list[float] = []
    e2e_ms: list[float] = []

    def on_message(message: dict[str, Any]) -> None:
        if message.action == "tts_finished":
            finished.append(time.monotonic())
        elif message.action == "latency_metrics":
            e2e_ms.append(float(message.data.get("e2e_ms") or 0.0))

    engine.add_listener(on_message)
    block = rate // 50
    start = time.monotonic()
    padded = np.concatenate([audio, np.zeros(rate * 3, np.float32)])
    end_of_speech = start + audio.shape[0] / rate
    for n, i in enumerate(range(0, padded.shape[0], block)):
        submit(np.ascontiguousarray(padded[i:i + block, None]), rate)
        delay = start + (n + 1) * block / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if finished:
            break
    deadline = time.monotonic() + 60
    while not (finished and engine.state == "listening"):
        if time.monotonic() > deadline:
            raise RuntimeError("no reply within 60 s")
        await asyncio.sleep(0.02)
    return (e2e_ms[0] / 1000.0 if e2e_ms else float("nan")), finished[0] - end_of_speech


async def _engine_mode(config: dict[str, Any], spawned: float, question: str) -> dict:
    from app.audio.playback import Speaker
    from app.engine import EngineHost

    imported = time.time()
    engine = EngineHost(config, output_sample_rate=48000)
    speaker = Speaker(engine, virtual=True)
    await engine.start()
    await speaker.start()
    listening = time.time()
    result = {"imports_s": imported - spawned, "listening_s": listening - spawned,
              "window_s": None, "rss_start_mb": _memory_mb()["VmRSS"]}
    try:
        result["e2e_s"], result["turn_s"] = await _one_turn(engine, engine.submit_microphone,
                                                            question)
        while not speaker.idle:
            await asyncio.sleep(0.02)
    finally:
        await speaker.stop()
        await engine.stop()
    memory = _memory_mb()
    result.update(rss_turn_mb=memory["VmRSS"], peak_mb=memory["VmHWM"])
    return result


def _window_mode(config: dict[str, Any], spawned: float, question: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    import qasync

    from app.ui.main_window import MainWindow

    imported = time.time()
    result: dict[str, Any] = {"imports_s": imported - spawned}

    async def main() -> None:
        window = MainWindow(config, audio="virtual", use_tray=False, merge_settings=False)
        window.show()
        app.processEvents()
        result["window_s"] = time.time() - spawned
        window.start()
        deadline = time.monotonic() + 120
        while window.status.state != "listening" or window.engine is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not listening after 120 s ({window.status.state})")
            await asyncio.sleep(0.005)
        result["listening_s"] = time.time() - spawned
        result["rss_start_mb"] = _memory_mb()["VmRSS"]
        try:
            result["e2e_s"], result["turn_s"] = await _one_turn(
                window.engine, window.submit_microphone, question)
            while window.speaker is not None and not window.speaker.idle:
                await asyncio.sleep(0.02)
        finally:
            await window.shutdown()
        memory = _memory_mb()
        result.update(rss_turn_mb=memory["VmRSS"], peak_mb=memory["VmHWM"])

    qasync.run(main())
    return result


def child(mode: str, config_path: str, question: str) -> None:
    spawned = float(os.environ["XTALK_BENCH_SPAWNED"])
    sys.path.insert(0, str(ROOT))
    config = json.loads(Path(config_path).read_text())
    if mode == "engine":
        result = asyncio.run(_engine_mode(config, spawned, question))
    else:
        result = _window_mode(config, spawned, question)
    print("RESULT " + json.dumps(result), flush=True)
    sys.stderr.flush()
    # Everything is shut down; skip interpreter finalisation, where PySide6 6.x can abort
    # ("bool_dealloc" while garbage-collecting) after the measurements are done.
    os._exit(0)


# --------------------------------------------------------------------------- parent side
def _question_wav(folder: Path) -> Path:
    import numpy as np
    import soundfile

    from xtalk.models.tts.piper import PiperTTS

    tts = PiperTTS()
    pcm = np.concatenate(list(tts.synthesize(QUESTION)))
    path = folder / "question.wav"
    soundfile.write(path, np.concatenate([np.zeros(tts.sample_rate // 2, np.int16), pcm]),
                    tts.sample_rate, subtype="PCM_16")
    return path


def _run_child(mode: str, config: Path, question: Path, settings: Path) -> dict[str, Any]:
    env = {**os.environ, "XTALK_CONFIG_DIR": str(settings), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT)}
    env["XTALK_BENCH_SPAWNED"] = repr(time.time())
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode,
                           "--config", str(config), "--question", str(question)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{mode} run failed (exit {done.returncode}): {tail}")
    return json.loads(line[len("RESULT "):])


def _fmt(values: list[float | None], unit: str) -> str:
    xs = [v for v in values if v is not None]
    if not xs:
        return "n/a"
    digits = 2 if unit == "s" else 0
    return f"{statistics.median(xs):.{digits}f} {unit} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per mode (≥ 5)")
    parser.add_argument("--modes", default=",".join(MODES), help="window,engine")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--question", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.config, args.question)
        return 0
    if args.runs < 5:
        parser.error("--runs must be at least 5 (medians)")
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        parser.error(f"--modes takes a comma-separated subset of {','.join(MODES)}")

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from llm_server import ScriptedLLMServer

    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp, \
            ScriptedLLMServer(default_reply=REPLY) as llm:
        folder = Path(tmp)
        config = json.loads((ROOT / "resources" / "default_config.json").read_text())
        config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
            "base_url": llm.base_url, "api_key": "x", "model": "scripted-model"}}}
        config_path = folder / "config.json"
        config_path.write_text(json.dumps(config))
        question = _question_wav(folder)
        for run in range(args.runs):
            for mode in modes:  # interleaved: machine noise hits both modes alike
                try:
                    r = _run_child(mode, config_path, question, folder / "settings")
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    print(f"run {run + 1} {mode}: {exc}", file=sys.stderr)
                    continue
                results[mode].append(r)
                print(f"run {run + 1} {mode}: listening after {r['listening_s']:.2f} s, "
                      f"RSS {r['rss_start_mb']:.0f} → {r['rss_turn_mb']:.0f} MB",
                      file=sys.stderr, flush=True)

    rows = [("imports done (s)", "imports_s", "s"), ("window shown (s)", "window_s", "s"),
            ('"listening" (s)', "listening_s", "s"), ("RSS when listening", "rss_start_mb", "MB"),
            ("RSS after one turn", "rss_turn_mb", "MB"), ("peak RSS (VmHWM)", "peak_mb", "MB"),
            ("first turn: end of speech → first reply audio (e2e_ms)", "e2e_s", "s"),
            ("first turn: end of question → whole reply synthesised (tts_finished)",
             "turn_s", "s")]
    print(f"\nDesktop app cold start (fresh process → state), median (min–max) of "
          f"{args.runs} runs; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    header = "| figure | " + " | ".join(f"{m} ({len(results[m])} ok)" for m in modes) + " |"
    print(header)
    print("| --- |" + " --- |" * len(modes))
    for label, key, unit in rows:
        print(f"| {label} | " + " | ".join(_fmt([r.get(key) for r in results[m]], unit)
                                          for m in modes) + " |")
    return 0 if all(results[m] for m in modes) else 1


if __name__ == "__main__":
    sys.exit(main())
