"""The Ollama client and discovery against a scripted Ollama (tests/support/ollama_server.py):
models listed with their details, a download's progress in order with its totals, Ollama's
errors passed through, cancelling, a server that is not running, and what discover()
reports. Nothing is downloaded."""

from __future__ import annotations

import threading
import time

import pytest
from llm_server import ScriptedLLMServer, free_port
from ollama_server import LIBRARY, PullFails, PullHangs, ScriptedOllamaServer

from xtalk.models.agents.ollama import (
    RECOMMENDED,
    Found,
    OllamaClient,
    OllamaError,
    OllamaModelNotFound,
    OllamaNotRunning,
    PullCancelled,
    PullProgress,
    discover,
    format_bytes,
)


@pytest.fixture
def ollama():
    with ScriptedOllamaServer(installed=["llama3.2:1b", "gemma2:2b"], version="0.5.7") as server:
        yield server


def test_version_and_installed_models(ollama) -> None:
    client = OllamaClient(ollama.base_url)  # the /v1 URL works too
    assert client.base_url == ollama.url
    assert client.openai_base_url == ollama.base_url
    assert client.version() == "0.5.7"
    models = client.list_models()
    assert [m.name for m in models] == ["llama3.2:1b", "gemma2:2b"]
    first = models[0]
    assert first.size == sum(LIBRARY["llama3.2:1b"][2])
    assert (first.parameter_size, first.quantization) == ("1.2B", "Q8_0")
    assert first.label() == "llama3.2:1b · 1.3 GB · 1.2B · Q8_0"


def test_a_pull_reports_progress_in_order_and_installs_the_model(ollama) -> None:
    seen: list[PullProgress] = []
    OllamaClient(ollama.url).pull("qwen2.5:1.5b", seen.append)
    statuses = [p.status for p in seen]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = LIBRARY["qwen2.5:1.5b"][2]
    downloads = [p for p in seen if p.digest]
    assert len(downloads) == len(layers) * ollama.chunks
    # per layer: completed grows to the layer's total; overall: never goes back
    for p in downloads:
        assert 0 < p.completed <= p.total and p.total in layers
    overall = [p.overall_completed for p in downloads]
    assert overall == sorted(overall)
    assert downloads[-1].overall_total == downloads[-1].overall_completed == sum(layers)
    assert downloads[0].fraction == pytest.approx(0.25)
    assert downloads[-1].fraction == 1.0 and seen[-1].done
    assert downloads[0].describe() == (f"{downloads[0].status}: {format_bytes(layers[0] / 4)}"
                                       f" of {format_bytes(layers[0])}")
    assert seen[-1].describe() == "success"
    assert "qwen2.5:1.5b" in ollama.installed_names
    assert ollama.pull_requests[-1]["model"] == "qwen2.5:1.5b"
    assert ollama.pull_requests[-1]["stream"] is True


def test_ollamas_errors_are_passed_through(ollama) -> None:
    client = OllamaClient(ollama.url)
    ollama.script_pull("qwen2.5:1.5b", PullFails(after_lines=2))
    seen: list[PullProgress] = []
    with pytest.raises(OllamaError) as failed:
        client.pull("qwen2.5:1.5b", seen.append)
    assert "no space left on device" in str(failed.value)
    assert "qwen2.5:1.5b" in str(failed.value)
    assert len([p for p in seen if p.digest]) == 2
    assert "qwen2.5:1.5b" not in ollama.installed_names
    with pytest.raises(OllamaModelNotFound) as missing:
        client.pull("no-such-model:7b")
    assert "no-such-model:7b" in str(missing.value)
    assert "file does not exist" in str(missing.value)
    with pytest.raises(ValueError):
        client.pull("  ")


def test_a_pull_is_cancelled_while_it_waits_for_ollama(ollama) -> None:
    client = OllamaClient(ollama.url)
    ollama.script_pull("llama3.2:3b", PullHangs(after_lines=2, seconds=30))
    seen: list[PullProgress] = []
    timer = threading.Timer(0.4, client.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(PullCancelled):
        client.pull("llama3.2:3b", seen.append)
    assert time.monotonic() - started < 5  # not the 30 s of silence
    assert len([p for p in seen if p.digest]) == 2
    deadline = time.monotonic() + 5
    while ollama.abandoned_pulls < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ollama.abandoned_pulls == 1  # the connection was closed: Ollama stops too
    assert "llama3.2:3b" not in ollama.installed_names


def test_a_pull_is_cancelled_between_lines_with_the_event(ollama) -> None:
    cancel = threading.Event()
    seen: list[PullProgress] = []

    def progress(p: PullProgress) -> None:
        seen.append(p)
        if len(seen) == 3:
            cancel.set()

    with pytest.raises(PullCancelled):
        OllamaClient(ollama.url).pull("gemma2:2b", progress, cancel=cancel)
    assert len(seen) == 3


def test_a_server_that_is_not_running_is_said_so() -> None:
    client = OllamaClient(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    for call in (client.version, client.list_models, lambda: client.pull("llama3.2:1b")):
        with pytest.raises(OllamaNotRunning) as failed:
            call()
        assert "Ollama is not running at http://127.0.0.1:" in str(failed.value)


def test_a_server_that_is_not_ollama_is_told_apart(llm_server) -> None:
    client = OllamaClient(llm_server.base_url, timeout_s=2)
    with pytest.raises(OllamaError) as failed:
        client.version()
    assert not isinstance(failed.value, OllamaNotRunning)


def test_discover_reports_ollama_other_servers_and_the_key(ollama) -> None:
    with ScriptedLLMServer(model="local-model") as other:
        port = free_port()
        found = discover(probe_urls=[ollama.port, other.port, port],
                         env={"OPENAI_API_KEY": "sk-secret-key"})
    assert [f.kind for f in found] == ["openai", "ollama", "local"]
    key, local_ollama, server = found
    assert key.describe() == "OPENAI_API_KEY is set"
    assert "sk-secret" not in repr(found)
    assert local_ollama.describe() == "Ollama 0.5.7 is running — 2 models"
    assert local_ollama.base_url == ollama.base_url and local_ollama.native_url == ollama.url
    assert local_ollama.models == ("llama3.2:1b", "gemma2:2b")
    assert local_ollama.details[1].parameter_size == "2.6B"
    assert server.base_url == other.base_url and server.models == ("local-model",)
    assert server.describe() == f"OpenAI-compatible server at {other.base_url} — 1 model"


def test_discover_finds_nothing_and_follows_the_probe_variable() -> None:
    port = free_port()
    assert discover(env={"XTALK_LLM_PROBE_URLS": str(port)}) == []
    assert discover(env={"XTALK_LLM_PROBE_URLS": ""}) == []


def test_descriptions_of_what_can_be_found() -> None:
    assert Found("ollama", "http://127.0.0.1:11434/v1", (), "0.5.7").describe() == \
        "Ollama 0.5.7 is running — no models yet"
    assert Found("ollama", "http://127.0.0.1:11434/v1", ("a",)).describe() == \
        "Ollama is running — 1 model"
    assert Found("llama.cpp", "http://127.0.0.1:8080/v1", ("model.gguf",)).describe() == \
        "llama.cpp server found (model.gguf)"
    assert Found("lmstudio", "http://127.0.0.1:1234/v1", ("a", "b")).describe() == \
        "LM Studio server found — 2 models"
    assert Found("openai", "https://example.org/v1").describe() == \
        "OPENAI_API_KEY is set (https://example.org/v1)"


def test_recommendations_are_small_instruct_models_smallest_first() -> None:
    names = [r.name for r in RECOMMENDED]
    assert names[0] == "qwen2.5:1.5b"
    assert all(":" in n and r.reason and r.download for n, r in zip(names, RECOMMENDED,
                                                                    strict=True))

    def size(text: str) -> float:
        value, unit = text.split()
        return float(value) * (1000 if unit == "GB" else 1)

    sizes = [size(r.download) for r in RECOMMENDED]
    assert sizes == sorted(sizes)


def test_format_bytes() -> None:
    assert format_bytes(986_061_056) == "986 MB"
    assert format_bytes(1_321_082_688) == "1.3 GB"
    assert format_bytes(512) == "512 B"
    assert format_bytes(6_800) == "7 KB"
