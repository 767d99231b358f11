"""Fixtures of the browser tests: ``chromium(wav)`` starts a headless Chromium whose fake
microphone plays ``wav`` and returns its page's DevTools URL; every browser is stopped
after the test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from browser import launch_chromium, stop_process


@pytest.fixture
def chromium(tmp_path: Path):
    started: list[subprocess.Popen[bytes]] = []
    yield lambda wav: launch_chromium(tmp_path, wav, started)
    for proc in started:
        stop_process(proc, group=True)
