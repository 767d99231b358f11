"""Ollama's own API (version, installed models, downloads) and what this computer offers.

Blocking calls (httpx): run them in a worker thread, never on an event loop.

* :class:`OllamaClient` talks to Ollama at a base URL (default ``http://127.0.0.1:11434``;
  a ``.../v1`` URL is accepted too): :meth:`~OllamaClient.version` (``GET /api/version``),
  :meth:`~OllamaClient.list_models` (``GET /api/tags``), :meth:`~OllamaClient.pull`
  (``POST /api/pull``, newline-delimited JSON progress, cancellable from another thread).
  Failures raise :class:`OllamaError` (or a subclass) with a message fit for people:
  :class:`OllamaNotRunning`, :class:`OllamaModelNotFound`, :class:`PullCancelled`; any
  other error text from Ollama (e.g. "no space left on device") is passed through.
* :func:`discover` reports the language models this computer offers, in the order the
  engine would pick them (:mod:`xtalk.models.agents.endpoints`): ``OPENAI_API_KEY``, then
  local servers (Ollama, recognised by ``/api/version``; llama.cpp; LM Studio).
* :data:`RECOMMENDED`: small instruct models for a CPU laptop, smallest that answers well
  first (sizes as published on ollama.com/library, not measured here).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from xtalk.models.agents import endpoints as _endpoints

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:11434"
TIMEOUT_S = 5.0
#: Longest silence of Ollama during a download (it verifies big files before answering).
PULL_READ_TIMEOUT_S = 300.0
DISCOVER_TIMEOUT_S = 1.0

INSTALL_LINUX = "curl -fsSL https://ollama.com/install.sh | sh"
INSTALL_URL = "https://ollama.com/download"
LLAMA_CPP_COMMAND = "llama-server -m model.gguf --port 8080"


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Recommendation:
    """A model worth downloading: Ollama tag, published download size, why."""

    name: str
    download: str
    parameters: str
    reason: str


#: Small instruct models for a CPU laptop, in the order we recommend them (smallest that
#: answers well first). Sizes are the download sizes listed on ollama.com/library.
RECOMMENDED: tuple[Recommendation, ...] = (
    Recommendation("qwen2.5:1.5b", "986 MB", "1.5B",
                   "the smallest that answers well; follows instructions and calls tools"),
    Recommendation("llama3.2:1b", "1.3 GB", "1.2B",
                   "Meta's small chat model; short, friendly answers; calls tools"),
    Recommendation("gemma2:2b", "1.6 GB", "2.6B",
                   "good conversational English; no tool calling (answers without tools)"),
    Recommendation("llama3.2:3b", "2.0 GB", "3.2B",
                   "better answers, slower on a CPU; needs about 4 GB of free memory"),
)


@dataclass(frozen=True)
class OllamaModel:
    """One installed model (``GET /api/tags``); ``size`` in bytes."""

    name: str
    size: int = 0
    parameter_size: str = ""
    quantization: str = ""
    family: str = ""

    def label(self) -> str:
        """``"llama3.2:1b · 1.3 GB · 1.2B · Q8_0"`` (what is known)."""
        parts = [self.name, format_bytes(self.size) if self.size else "",
                 self.parameter_size, self.quantization]
        return " · ".join(p for p in parts if p)


@dataclass(frozen=True)
class PullProgress:
    """One line of a download. ``total`` / ``completed``: bytes of the layer ``digest``
    (0 on steps that download nothing); ``overall_*``: all layers announced so far."""

    status: str
    digest: str = ""
    total: int = 0
    completed: int = 0
    overall_total: int = 0
    overall_completed: int = 0

    @property
    def fraction(self) -> float | None:
        """Share downloaded (0–1), ``None`` before any layer size is known."""
        if self.overall_total <= 0:
            return None
        return min(1.0, self.overall_completed / self.overall_total)

    @property
    def done(self) -> bool:
        return self.status == "success"

    def describe(self) -> str:
        """``"pulling 6a0746a1ec1a: 412 MB of 986 MB"`` on download steps, else the
        status alone (``"verifying sha256 digest"``)."""
        if self.digest and self.overall_total > 0:
            return (f"{self.status}: {format_bytes(self.overall_completed)} of "
                    f"{format_bytes(self.overall_total)}")
        return self.status


@dataclass(frozen=True)
class Found:
    """A language model source found on this computer (never holds a key).

    ``kind``: ``"ollama"``, ``"llama.cpp"``, ``"lmstudio"``, ``"local"`` (another
    OpenAI-compatible server) or ``"openai"`` (``OPENAI_API_KEY`` is set). ``base_url``
    is the OpenAI-compatible URL (``.../v1``); ``native_url`` Ollama's own API.
    """

    kind: str
    base_url: str
    models: tuple[str, ...] = ()
    version: str = ""
    details: tuple[OllamaModel, ...] = ()

    @property
    def native_url(self) -> str:
        return _root(self.base_url) if self.kind == "ollama" else ""

    def describe(self) -> str:
        """One line for people, e.g. ``"Ollama 0.5.7 is running — 2 models"``."""
        count = len(self.models)
        models = ("no models yet" if count == 0 else
                  f"{count} model" + ("" if count == 1 else "s"))
        if self.kind == "openai":
            return "OPENAI_API_KEY is set" + (
                f" ({self.base_url})" if self.base_url != _endpoints.OPENAI_DEFAULT_BASE_URL
                else "")
        if self.kind == "ollama":
            version = f" {self.version}" if self.version else ""
            return f"Ollama{version} is running — {models}"
        if self.kind == "llama.cpp":
            return "llama.cpp server found" + (f" ({self.models[0]})" if count == 1 else
                                               f" — {models}")
        if self.kind == "lmstudio":
            return f"LM Studio server found — {models}"
        return f"OpenAI-compatible server at {self.base_url} — {models}"


# --------------------------------------------------------------------------- errors
class OllamaError(RuntimeError):
    """Ollama failed; the message says why in words (Ollama's own text passed through)."""


class OllamaNotRunning(OllamaError):
    """Nothing answers at the base URL (Ollama not installed or not started)."""


class OllamaModelNotFound(OllamaError):
    """Ollama's library has no model of that name."""


class PullCancelled(OllamaError):
    """The download was cancelled."""


# --------------------------------------------------------------------------- helpers
def format_bytes(n: int | float) -> str:
    """Decimal units as Ollama shows them: ``"986 MB"``, ``"1.3 GB"``."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            if unit in ("B", "KB", "MB"):
                return f"{value:.0f} {unit}"
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def _root(url: str) -> str:
    """``http://host:port`` from ``http://host:port`` or ``http://host:port/v1``."""
    url = url.strip().rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def _is_loopback(url: str) -> bool:
    return any(h in url for h in ("://127.0.0.1", "://localhost", "://[::1]"))


def _error_text(response: Any) -> str:
    """Ollama's ``{"error": ...}`` text of a failed answer, else the HTTP status."""
    with contextlib.suppress(Exception):
        data = response.json()
        if isinstance(data, Mapping) and data.get("error"):
            return str(data["error"])
    return f"HTTP {response.status_code}"


def _not_found(text: str) -> bool:
    text = text.lower()
    return "file does not exist" in text or "not found" in text


# --------------------------------------------------------------------------- client
@dataclass
class _Pull:
    """A running download: its cancel flag and, once open, its response."""

    cancel: threading.Event
    response: Any = None


class OllamaClient:
    """Blocking client of Ollama's API at ``base_url`` (``.../v1`` is accepted).

    Args:
        base_url: Ollama's address (default ``http://127.0.0.1:11434``).
        timeout_s: Timeout of every request (connect, and each read except during
            :meth:`pull`, which waits up to :data:`PULL_READ_TIMEOUT_S` between lines).
    """

    def __init__(self, base_url: str = DEFAULT_URL, timeout_s: float = TIMEOUT_S) -> None:
        self.base_url = _root(base_url) or DEFAULT_URL
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        self._pulls: list[_Pull] = []

    @property
    def openai_base_url(self) -> str:
        """The OpenAI-compatible URL of the same server (what the agent uses)."""
        return self.base_url + "/v1"

    def _http(self, read_timeout_s: float | None = None) -> Any:
        import httpx

        timeout = httpx.Timeout(self.timeout_s, read=read_timeout_s or self.timeout_s)
        return httpx.Client(timeout=timeout, trust_env=not _is_loopback(self.base_url))

    def _get(self, path: str) -> Any:
        import httpx

        try:
            with self._http() as client:
                response = client.get(self.base_url + path)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise self._not_running() from exc
        except httpx.HTTPError as exc:
            raise OllamaError(f"Ollama at {self.base_url} did not answer "
                              f"({type(exc).__name__}).") from exc
        if response.status_code != 200:
            raise OllamaError(f"Ollama at {self.base_url}: {_error_text(response)}")
        try:
            return response.json()
        except ValueError as exc:
            raise OllamaError(f"{self.base_url} answered, but not like Ollama "
                              "(no JSON).") from exc

    def _not_running(self) -> OllamaNotRunning:
        return OllamaNotRunning(
            f"Ollama is not running at {self.base_url}. Start it (the Ollama app, or "
            f"`ollama serve`), or install it from ollama.com.")

    def version(self) -> str:
        """Ollama's version (``GET /api/version``); raises :class:`OllamaError` when the
        server is not Ollama."""
        data = self._get("/api/version")
        if not isinstance(data, Mapping) or not isinstance(data.get("version"), str):
            raise OllamaError(f"{self.base_url} answered, but not like Ollama.")
        return str(data["version"])

    def list_models(self) -> list[OllamaModel]:
        """The installed models (``GET /api/tags``), in Ollama's order."""
        data = self._get("/api/tags")
        items = data.get("models") if isinstance(data, Mapping) else None
        models: list[OllamaModel] = []
        for item in items or []:
            if not isinstance(item, Mapping):
                continue
            name = str(item.get("name") or item.get("model") or "")
            if not name:
                continue
            details = item.get("details") if isinstance(item.get("details"), Mapping) else {}
            size = item.get("size")
            models.append(OllamaModel(
                name=name, size=int(size) if isinstance(size, int | float) else 0,
                parameter_size=str(details.get("parameter_size") or ""),
                quantization=str(details.get("quantization_level") or ""),
                family=str(details.get("family") or "")))
        return models

    def pull(self, name: str, on_progress: Callable[[PullProgress], None] | None = None,
             cancel: threading.Event | None = None) -> None:
        """Download ``name`` (``POST /api/pull``), calling ``on_progress`` for every line
        (in this thread), until Ollama reports success.

        Cancel from another thread with ``cancel.set()`` and/or :meth:`cancel` (which
        also breaks a read that is waiting). Ollama stops downloading when the
        connection closes.

        Raises:
            OllamaNotRunning, OllamaModelNotFound, PullCancelled, OllamaError (with
            Ollama's error text, e.g. a full disk).
        """
        import httpx

        name = name.strip()
        if not name:
            raise ValueError("name the model to download")
        cancel = cancel if cancel is not None else threading.Event()
        layers: dict[str, tuple[int, int]] = {}
        entry = _Pull(cancel)
        with self._lock:
            self._pulls.append(entry)
        try:
            with self._http(PULL_READ_TIMEOUT_S) as client, client.stream(
                    "POST", self.base_url + "/api/pull",
                    json={"model": name, "name": name, "stream": True}) as response:
                entry.response = response
                if cancel.is_set():
                    raise PullCancelled(f"The download of {name} was cancelled.")
                if response.status_code != 200:
                    response.read()
                    raise self._pull_error(name, _error_text(response))
                for line in response.iter_lines():
                    if cancel.is_set():
                        raise PullCancelled(f"The download of {name} was cancelled.")
                    if not line.strip():
                        continue
                    progress = self._progress(name, line, layers)
                    if on_progress is not None:
                        on_progress(progress)
                    if progress.done:
                        return
            if cancel.is_set():
                raise PullCancelled(f"The download of {name} was cancelled.")
            raise OllamaError(f"Ollama stopped the download of {name} before it finished.")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise self._not_running() from exc
        except httpx.HTTPError as exc:
            if cancel.is_set():
                raise PullCancelled(f"The download of {name} was cancelled.") from None
            raise OllamaError(f"The connection to Ollama broke during the download of "
                              f"{name} ({type(exc).__name__}).") from exc
        finally:
            with self._lock:
                self._pulls = [p for p in self._pulls if p is not entry]

    def cancel(self) -> None:
        """Cancel the running downloads of this client (any thread)."""
        with self._lock:
            pulls = list(self._pulls)
        for pull in pulls:
            pull.cancel.set()
            if pull.response is not None:
                _break_connection(pull.response)

    @staticmethod
    def _progress(name: str, line: str, layers: dict[str, tuple[int, int]]) -> PullProgress:
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise OllamaError(f"Unexpected answer from Ollama: {line[:200]}") from exc
        if not isinstance(item, Mapping):
            raise OllamaError(f"Unexpected answer from Ollama: {line[:200]}")
        if item.get("error"):
            raise OllamaClient._pull_error(name, str(item["error"]))
        digest = str(item.get("digest") or "")
        try:
            total = int(item.get("total") or 0)
            completed = int(item.get("completed") or 0)
        except (TypeError, ValueError):
            total = completed = 0
        if digest and total:
            layers[digest] = (total, min(completed, total))
        return PullProgress(
            status=str(item.get("status") or ""), digest=digest, total=total,
            completed=completed, overall_total=sum(t for t, _ in layers.values()),
            overall_completed=sum(c for _, c in layers.values()))

    @staticmethod
    def _pull_error(name: str, text: str) -> OllamaError:
        if _not_found(text):
            return OllamaModelNotFound(
                f"Ollama has no model named “{name}” (Ollama: {text}). Check the name "
                "on ollama.com/library.")
        return OllamaError(f"Downloading {name} failed. Ollama: {text}")


def _break_connection(response: Any) -> None:
    """Wake a read blocked on ``response``'s socket (shutdown), then close it."""
    with contextlib.suppress(Exception):
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------- discovery
def _probe(name: str, base_url: str, timeout_s: float) -> Found | None:
    """What answers at ``base_url``: Ollama (its ``/api/version``), else any server
    listing models at ``/models``, else ``None``."""
    client = OllamaClient(base_url, timeout_s)
    try:
        version = client.version()
    except OllamaNotRunning:
        return None
    except OllamaError:
        version = ""
    if version:
        try:
            details = tuple(client.list_models())
        except OllamaError as exc:
            log.debug("Ollama at %s lists no models: %s", base_url, exc)
            details = ()
        return Found("ollama", client.openai_base_url, tuple(m.name for m in details),
                     version, details)
    try:
        ids = _endpoints.fetch_model_ids(base_url, timeout_s)
    except Exception as exc:
        log.debug("no language model server at %s: %s", base_url, type(exc).__name__)
        return None
    return Found(name, base_url.rstrip("/"), tuple(ids))


def discover(probe_urls: Sequence[str | int] | str | None = None,
             env: Mapping[str, str] | None = None,
             timeout_s: float = DISCOVER_TIMEOUT_S) -> list[Found]:
    """The language models this computer offers, in the engine's order of preference.

    ``OPENAI_API_KEY`` (never reported, only that it is set), then the local servers of
    :func:`~xtalk.models.agents.endpoints.probe_targets` (``probe_urls``, else
    ``XTALK_LLM_PROBE_URLS``, else Ollama, llama.cpp, LM Studio), probed concurrently.
    Blocking (up to about ``timeout_s`` × 3): call it from a worker thread.
    """
    env = os.environ if env is None else env
    found: list[Found] = []
    if env.get("OPENAI_API_KEY", "").strip():
        url = (env.get("OPENAI_BASE_URL") or "").strip().rstrip("/")
        found.append(Found("openai", url or _endpoints.OPENAI_DEFAULT_BASE_URL))
    targets = _endpoints.probe_targets(probe_urls, env)
    if targets:
        with ThreadPoolExecutor(max_workers=len(targets),
                                thread_name_prefix="xtalk-discover") as pool:
            results = list(pool.map(lambda t: _probe(t[0], t[1], timeout_s), targets))
        found += [r for r in results if r is not None]
    return found


__all__ = [
    "DEFAULT_URL", "INSTALL_LINUX", "INSTALL_URL", "LLAMA_CPP_COMMAND", "RECOMMENDED",
    "Found", "OllamaClient", "OllamaError", "OllamaModel", "OllamaModelNotFound",
    "OllamaNotRunning", "PullCancelled", "PullProgress", "Recommendation", "discover",
    "format_bytes",
]
