"""Headless mode as users run it: ``python -m app --no-window --input-wav Q.wav
--output-wav R.wav --config CFG`` in a fresh process, with the real default models
(faster-whisper tiny.en, Silero VAD, Piper) and the scripted OpenAI-compatible server on
loopback as DefaultAgent's language model. Usage errors exit 2 with one clear line and no
traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from llm_server import ScriptedLLMServer, Text
from paths import ROOT
from scripted_turn import QUESTION, REPLY, default_config, transcribe
from wer import wer

from xtalk.models.tts.piper import PiperTTS


def run_app(*args: str, tmp_path: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "XTALK_CONFIG_DIR": str(tmp_path / "settings"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The question spoken by Piper, as a WAV at Piper's own rate (22,050 Hz)."""
    tts = PiperTTS()
    pcm = np.concatenate(list(tts.synthesize(QUESTION)))
    path = tmp_path_factory.mktemp("headless") / "question.wav"
    pause = np.zeros(tts.sample_rate // 2, np.int16)
    soundfile.write(path, np.concatenate([pause, pcm]), tts.sample_rate, subtype="PCM_16")
    return path


@pytest.mark.timeout(300)
def test_headless_answers_a_recorded_question_into_a_wav(question_wav: Path,
                                                         tmp_path: Path) -> None:
    reply_wav = tmp_path / "reply.wav"
    config = tmp_path / "config.json"
    with ScriptedLLMServer() as llm:
        llm.script(Text(REPLY, token_delay_s=0.01))
        config.write_text(json.dumps(default_config(llm.base_url)))
        done = run_app("--no-window", "--input-wav", str(question_wav), "--output-wav",
                       str(reply_wav), "--config", str(config), tmp_path=tmp_path)
        requests = list(llm.requests)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "sk-test-secret" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    heard_question = next(line for line in lines if line.startswith("you: "))[5:]
    assert wer(QUESTION, heard_question) <= 0.35, done.stdout
    assert f"assistant: {REPLY}" in lines, done.stdout
    assert len(requests) == 1 and wer(QUESTION, requests[0]["messages"][-1]["content"]) <= 0.35

    audio, rate = soundfile.read(reply_wav, dtype="float32")
    assert audio.ndim == 1 and rate == 24000
    assert audio.shape[0] / rate > 1.5 and np.max(np.abs(audio)) > 0.05
    heard = transcribe(audio, rate)
    assert wer(REPLY, heard) <= 0.35, heard


def test_a_file_microphone_runs_without_the_echo_canceller(question_wav: Path) -> None:
    """A WAV file never hears the speaker: the echo gate (which, with no echo to learn,
    holds out a user who speaks over the first reply) runs only on a live microphone."""
    from app.headless import HeadlessRun

    assert HeadlessRun({}, input_wav=str(question_wav)).echo_gate is False
    assert HeadlessRun({}).echo_gate is True


def _bad_config(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case", [
    "missing input", "unreadable input", "missing config", "config not JSON",
    "config not an object", "unknown model", "output folder missing", "needs --no-window",
])
def test_usage_errors_exit_2_with_a_clear_message(case: str, question_wav: Path,
                                                  tmp_path: Path) -> None:
    good_config = tmp_path / "config.json"
    good_config.write_text(json.dumps(default_config("http://127.0.0.1:9/v1")))
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are not samples")
    args = {
        "missing input": (["--input-wav", str(tmp_path / "nope.wav")], "nope.wav: no such file"),
        "unreadable input": (["--input-wav", str(not_audio)], "cannot read audio"),
        "missing config": (["--input-wav", str(question_wav), "--config",
                            str(tmp_path / "none.json")], "cannot read config file"),
        "config not JSON": (["--input-wav", str(question_wav), "--config",
                             _bad_config(tmp_path, "a.json", '{"asr": ')], "is not valid JSON"),
        "config not an object": (["--input-wav", str(question_wav), "--config",
                                  _bad_config(tmp_path, "b.json", "[1, 2]")],
                                 "must hold a JSON object"),
        "unknown model": (["--input-wav", str(question_wav), "--config", _bad_config(
            tmp_path, "c.json", '{"asr": {"type": "NoSuchASR"}}')],
                          "bad configuration: unknown type"),
        "output folder missing": (["--input-wav", str(question_wav), "--output-wav",
                                   str(tmp_path / "no" / "reply.wav")], "cannot write"),
        "needs --no-window": (["--input-wav", str(question_wav)], "need --no-window"),
    }[case]
    argv, expected = args
    if case != "needs --no-window":
        argv = ["--no-window", *argv]
    if "--config" not in argv:
        argv += ["--config", str(good_config)]
    done = run_app(*argv, tmp_path=tmp_path, timeout=120)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert not (tmp_path / "no").exists()
