"""``xtalk-app --server ...`` hands over to ``xtalk-server`` (one binary for both uses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from llm_server import free_port
from paths import ROOT, TONE_CONFIG

from app.cli import main


def test_server_flag_passes_the_rest_to_xtalk_server(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--server", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: xtalk-server") and "--lan" in out


def test_server_errors_come_from_xtalk_server(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    assert main(["--server", "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xtalk-server:") and str(missing) in err
    assert "Traceback" not in err


def test_server_flag_must_come_first(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--no-window", "--server"])
    assert exited.value.code == 2
    assert "--server must be the first argument" in capsys.readouterr().err


def test_app_serves_healthz_with_server_flag(tmp_path):
    port = free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("XTALK_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "--server", "--config", str(TONE_CONFIG),
         "--port", str(port), "--database", f"sqlite:///{tmp_path / 'x.db'}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        deadline = time.monotonic() + 90
        while body is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                            timeout=5) as response:
                    body = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        assert body is not None and body["status"] == "ok", server.poll()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=10)
