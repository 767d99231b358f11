"""Fixtures of the browser tests: ``chromium(wav)`` starts a headless Chromium whose fake
microphone plays ``wav`` and returns its page's DevTools URL (every browser is stopped
after the test); ``server``: ``xtalk-server`` with tone-code models and one user;
``silence``: a silent fake microphone."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import launch_chromium, server_with_user, stop_process, write_mic_wav


@pytest.fixture
def chromium(tmp_path: Path):
    started: list[subprocess.Popen[bytes]] = []
    yield lambda wav: launch_chromium(tmp_path, wav, started)
    for proc in started:
        stop_process(proc, group=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with server_with_user(tmp_path) as base:
        yield base


@pytest.fixture
def silence(tmp_path: Path) -> Path:
    wav = tmp_path / "silence.wav"
    write_mic_wav(wav, 1.0)
    return wav
