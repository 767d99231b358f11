"""A scripted Ollama server: a test double for Ollama's own API (nothing is downloaded).

A real HTTP server (FastAPI + uvicorn, in a background thread, on a free port of 127.0.0.1)
implementing ``GET /api/version``, ``GET /api/tags``, ``POST /api/pull`` (newline-delimited
JSON progress, like Ollama) and ``GET /v1/models``::

    with ScriptedOllamaServer(installed=["llama3.2:1b"]) as server:
        client = OllamaClient(server.url)
        client.pull("qwen2.5:1.5b", on_progress=print)   # a few lines, then success
        assert "qwen2.5:1.5b" in server.installed_names

A pull of a name in :attr:`ScriptedOllamaServer.library` streams "pulling manifest", each
layer's progress in ``chunks`` steps (``step_delay_s`` apart), "verifying sha256 digest",
"writing manifest", "success", and then the model is installed. Any other name answers
``{"error": "pull model manifest: file does not exist"}`` like Ollama. Script a pull with
:meth:`ScriptedOllamaServer.script_pull`: :class:`PullFails` (an error line after some
progress lines), :class:`PullHangs` (progress, then silence until the client goes away).
Every pull request body is recorded in :attr:`pull_requests`; pulls the client left before
the end are counted in :attr:`abandoned_pulls`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from threaded_server import ThreadedServer

__all__ = ["LIBRARY", "PullFails", "PullHangs", "ScriptedOllamaServer"]

#: name → (parameter size, quantization, layer sizes in bytes): what the scripted library
#: offers. The first layer is the weights, like Ollama's manifests.
LIBRARY: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "qwen2.5:1.5b": ("1.5B", "Q4_K_M", (986_061_056, 6_800, 11_300, 488)),
    "llama3.2:1b": ("1.2B", "Q8_0", (1_321_082_688, 7_711, 6_016, 96)),
    "gemma2:2b": ("2.6B", "Q4_0", (1_629_509_152, 8_432, 358, 487)),
    "llama3.2:3b": ("3.2B", "Q4_K_M", (2_019_377_376, 7_711, 6_016, 96)),
}


@dataclass
class PullFails:
    """Stream ``after_lines`` progress lines, then ``{"error": message}``."""

    message: str = "write /root/.ollama/models/blobs/sha256-partial: no space left on device"
    after_lines: int = 3


@dataclass
class PullHangs:
    """Stream ``after_lines`` progress lines, then send nothing for ``seconds``."""

    after_lines: int = 2
    seconds: float = 30.0


def _digest(name: str, index: int) -> str:
    return "sha256:" + hashlib.sha256(f"{name}/{index}".encode()).hexdigest()


class ScriptedOllamaServer(ThreadedServer):
    """A scripted Ollama API on 127.0.0.1 (a context manager).

    Args:
        installed: Models installed at the start (names from :data:`LIBRARY`, or any name).
        version: What ``/api/version`` answers.
        chunks: Progress lines per layer during a pull.
        step_delay_s: Pause between progress lines.
    """

    kind = "Ollama"

    def __init__(self, installed: Iterable[str] = (), *, version: str = "0.5.7",
                 chunks: int = 4, step_delay_s: float = 0.03) -> None:
        super().__init__()
        self.version = version
        self.chunks = max(1, int(chunks))
        self.step_delay_s = float(step_delay_s)
        self.library = dict(LIBRARY)
        self.installed: list[dict[str, Any]] = []
        self.pull_requests: list[dict[str, Any]] = []
        self.abandoned_pulls = 0
        self._scripts: dict[str, Any] = {}
        self._lock = threading.Lock()
        for name in installed:
            self.install(name)
        self.app = self._build_app()

    # ------------------------------------------------------------------ script
    def install(self, name: str) -> None:
        """Add ``name`` to the installed models (as ``/api/tags`` lists them)."""
        params, quant, layers = self.library.get(name, ("", "", (1_000_000,)))
        with self._lock:
            self.installed = [m for m in self.installed if m["name"] != name]
            self.installed.append({
                "name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z",
                "size": sum(layers), "digest": _digest(name, -1)[7:],
                "details": {"parent_model": "", "format": "gguf",
                            "family": name.split(":")[0], "families": None,
                            "parameter_size": params, "quantization_level": quant}})

    def script_pull(self, name: str, step: PullFails | PullHangs) -> ScriptedOllamaServer:
        """The next pull of ``name`` fails or hangs as ``step`` says."""
        with self._lock:
            self._scripts[name] = step
        return self

    @property
    def installed_names(self) -> list[str]:
        with self._lock:
            return [m["name"] for m in self.installed]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (Ollama's own API)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (the OpenAI-compatible API)."""
        return self.url + "/v1"

    # ------------------------------------------------------------------ app
    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/version")
        async def version() -> dict[str, Any]:
            return {"version": self.version}

        @app.get("/api/tags")
        async def tags() -> dict[str, Any]:
            with self._lock:
                return {"models": list(self.installed)}

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "library"}
                for n in self.installed_names]}

        @app.post("/api/pull")
        async def pull(request: Request) -> Any:
            body = await request.json()
            with self._lock:
                self.pull_requests.append(body)
            name = str(body.get("model") or body.get("name") or "")
            if not name:
                return JSONResponse(status_code=400, content={"error": "model is required"})
            return StreamingResponse(self._pull_lines(name), media_type="application/x-ndjson")

        return app

    async def _pull_lines(self, name: str):
        with self._lock:
            script = self._scripts.pop(name, None)
        finished = False
        sent = 0

        def line(item: dict[str, Any]) -> str:
            return json.dumps(item) + "\n"

        try:
            yield line({"status": "pulling manifest"})
            if name not in self.library:
                finished = True
                yield line({"error": "pull model manifest: file does not exist"})
                return
            for index, size in enumerate(self.library[name][2]):
                digest = _digest(name, index)
                for step in range(1, self.chunks + 1):
                    if isinstance(script, PullFails) and sent >= script.after_lines:
                        finished = True
                        yield line({"error": script.message})
                        return
                    if isinstance(script, PullHangs) and sent >= script.after_lines:
                        await self._sleep(script.seconds)
                        return
                    await self._sleep(self.step_delay_s)
                    sent += 1
                    yield line({"status": f"pulling {digest[7:19]}", "digest": digest,
                                "total": size, "completed": size * step // self.chunks})
            for status in ("verifying sha256 digest", "writing manifest", "success"):
                await self._sleep(self.step_delay_s)
                if status == "success":
                    self.install(name)
                    finished = True
                yield line({"status": status})
        finally:
            if not finished:
                with self._lock:
                    self.abandoned_pulls += 1
