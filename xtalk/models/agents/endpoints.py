"""Find an OpenAI-compatible chat endpoint for the default agent.

Resolution order (:func:`resolve_endpoint`):

1. An explicit configuration with both ``base_url`` and ``model``: used as is.
2. ``OPENAI_API_KEY`` (or an ``api_key`` in the configuration) set: OpenAI, at
   ``OPENAI_BASE_URL`` when set (as the ``openai`` SDK does); the model comes from the
   configuration, ``XTALK_LLM_MODEL`` or ``"gpt-4o-mini"``.
3. A local OpenAI-compatible server on the loopback interface — Ollama (port 11434),
   llama.cpp (8080), LM Studio (1234) — found with ``GET /v1/models`` (short timeout); the
   first listed model id is used unless the configuration names one. The probed servers
   are overridable with the ``probe_urls`` argument or the ``XTALK_LLM_PROBE_URLS``
   environment variable (comma-separated ports or base URLs); an empty value disables
   probing.
4. Nothing: ``None`` (the agent then falls back to the built-in offline agent).

A configuration with a ``base_url`` but no ``model`` asks that server's ``/models`` for one.

Results are cached per process (:func:`resolve_endpoint_cached`); a "nothing found" result
is only cached for :data:`NEGATIVE_CACHE_S` seconds, so a local server started later is
picked up without restarting.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
PROBE_ENV = "XTALK_LLM_PROBE_URLS"
MODEL_ENV = "XTALK_LLM_MODEL"
PROBE_TIMEOUT_S = 0.3
NEGATIVE_CACHE_S = 30.0

#: (name, base URL) of the local servers probed, in order of preference.
LOCAL_SERVERS: tuple[tuple[str, str], ...] = (
    ("ollama", "http://127.0.0.1:11434/v1"),
    ("llama.cpp", "http://127.0.0.1:8080/v1"),
    ("lmstudio", "http://127.0.0.1:1234/v1"),
)


@dataclass(frozen=True)
class Endpoint:
    """A resolved OpenAI-compatible endpoint. ``api_key`` is never shown in ``repr``."""

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    source: str = "config"  # "config" | "openai" | "ollama" | "llama.cpp" | "lmstudio" | ...
    extra_body: Mapping[str, Any] | None = field(default=None, compare=False)

    def describe(self) -> str:
        """``"<model> at <base_url> (<source>)"`` — never the key."""
        return f"{self.model} at {self.base_url} ({self.source})"

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the endpoint (for per-endpoint memories such as "no tools")."""
        return (self.base_url.rstrip("/"), self.model)


def probe_targets(probe_urls: Sequence[str | int] | str | None = None,
                  env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The ``(name, base_url)`` pairs to probe.

    ``probe_urls`` (or else ``XTALK_LLM_PROBE_URLS``) lists ports (``11434``: loopback) or
    base URLs (``http://host:port/v1``); ``None`` and no variable: :data:`LOCAL_SERVERS`.
    """
    env = os.environ if env is None else env
    if probe_urls is None:
        raw = env.get(PROBE_ENV)
        if raw is None:
            return list(LOCAL_SERVERS)
        probe_urls = raw
    if isinstance(probe_urls, str):
        probe_urls = [p for p in (s.strip() for s in probe_urls.split(",")) if p]
    known = {url: name for name, url in LOCAL_SERVERS}
    targets: list[tuple[str, str]] = []
    for item in probe_urls:
        text = str(item).strip()
        if not text:
            continue
        url = f"http://127.0.0.1:{int(text)}/v1" if text.isdigit() else text.rstrip("/")
        targets.append((known.get(url, "local"), url))
    return targets


def fetch_model_ids(base_url: str, timeout_s: float = PROBE_TIMEOUT_S,
                    api_key: str = "") -> list[str]:
    """Model ids listed by ``GET {base_url}/models`` (raises on any failure)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    loopback = any(h in base_url for h in ("://127.0.0.1", "://localhost", "://[::1]"))
    with httpx.Client(timeout=timeout_s, trust_env=not loopback) as client:
        response = client.get(base_url.rstrip("/") + "/models", headers=headers)
        response.raise_for_status()
        data = response.json()
    items = data.get("data", data.get("models", [])) if isinstance(data, Mapping) else data
    ids = [str(m.get("id") or m.get("name") or "") if isinstance(m, Mapping) else str(m)
           for m in items or []]
    return [i for i in ids if i]


def probe_local(targets: Sequence[tuple[str, str]],
                timeout_s: float = PROBE_TIMEOUT_S) -> tuple[str, str, list[str]] | None:
    """Probe the targets concurrently; the first (in order) that answers with models wins.

    Returns:
        ``(name, base_url, model_ids)`` or ``None``.
    """
    if not targets:
        return None

    def attempt(target: tuple[str, str]) -> list[str] | None:
        try:
            return fetch_model_ids(target[1], timeout_s) or None
        except Exception as exc:
            log.debug("no LLM server at %s: %s", target[1], type(exc).__name__)
            return None

    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="xtalk-probe") as pool:
        results = list(pool.map(attempt, targets))
    for (name, url), ids in zip(targets, results, strict=True):
        if ids:
            return name, url, ids
    return None


def resolve_endpoint(model: Mapping[str, Any] | None = None, *, probe: bool = True,
                     probe_urls: Sequence[str | int] | str | None = None,
                     timeout_s: float = PROBE_TIMEOUT_S,
                     env: Mapping[str, str] | None = None) -> Endpoint | None:
    """Resolve an endpoint (see the module docstring for the order); ``None``: none found.

    Args:
        model: ``{"base_url", "api_key", "model", "extra_body"}``, any of them optional.
        probe: Probe the loopback interface for local servers.
        probe_urls: Servers to probe instead of :data:`LOCAL_SERVERS` (ports or URLs).
        timeout_s: Timeout of each probe request.
        env: Environment (default ``os.environ``).
    """
    env = os.environ if env is None else env
    cfg = dict(model or {})
    base_url = str(cfg.get("base_url") or "").strip().rstrip("/")
    name = str(cfg.get("model") or "").strip()
    cfg_key = str(cfg.get("api_key") or "")
    extra_body = cfg.get("extra_body") or None

    if base_url and name:
        return Endpoint(base_url, name, cfg_key, "config", extra_body)
    if base_url:  # a server without a model name: ask it
        try:
            ids = fetch_model_ids(base_url, max(timeout_s, 2.0), cfg_key)
        except Exception as exc:
            log.warning("cannot list the models of %s: %s", base_url, type(exc).__name__)
            ids = []
        if ids:
            return Endpoint(base_url, ids[0], cfg_key, "config", extra_body)
        log.warning("no model found at %s", base_url)
        return None

    env_key = env.get("OPENAI_API_KEY", "").strip()
    if cfg_key or env_key:
        url = (env.get("OPENAI_BASE_URL") or "").strip().rstrip("/") or OPENAI_DEFAULT_BASE_URL
        model_name = name or env.get(MODEL_ENV, "").strip() or OPENAI_DEFAULT_MODEL
        return Endpoint(url, model_name, cfg_key or env_key, "openai", extra_body)

    if probe:
        found = probe_local(probe_targets(probe_urls, env), timeout_s)
        if found is not None:
            source, url, ids = found
            # A configured model is used as is; XTALK_LLM_MODEL only when the server has it.
            env_model = env.get(MODEL_ENV, "").strip()
            model_name = name or (env_model if env_model in ids else ids[0])
            return Endpoint(url, model_name, "", source, extra_body)
    return None


# --------------------------------------------------------------------------- cache
_cache: dict[Any, tuple[Endpoint | None, float]] = {}
_cache_lock = threading.Lock()


def _cache_key(model: Mapping[str, Any] | None, probe: bool,
               probe_urls: Sequence[str | int] | str | None,
               env: Mapping[str, str]) -> Any:
    cfg = dict(model or {})
    urls = tuple(probe_urls) if isinstance(probe_urls, list | tuple) else probe_urls
    return (str(cfg.get("base_url") or ""), str(cfg.get("model") or ""),
            hash(str(cfg.get("api_key") or "")), probe, urls,
            hash(env.get("OPENAI_API_KEY", "")), env.get("OPENAI_BASE_URL", ""),
            env.get(MODEL_ENV, ""), env.get(PROBE_ENV))


def resolve_endpoint_cached(model: Mapping[str, Any] | None = None, *, probe: bool = True,
                            probe_urls: Sequence[str | int] | str | None = None,
                            timeout_s: float = PROBE_TIMEOUT_S) -> Endpoint | None:
    """:func:`resolve_endpoint`, cached per process (per configuration and environment)."""
    key = _cache_key(model, probe, probe_urls, os.environ)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            endpoint, stamp = hit
            if endpoint is not None or time.monotonic() - stamp < NEGATIVE_CACHE_S:
                return endpoint
        endpoint = resolve_endpoint(model, probe=probe, probe_urls=probe_urls,
                                    timeout_s=timeout_s)
        _cache[key] = (endpoint, time.monotonic())
    if endpoint is None:
        log.info("no language model endpoint found; using the offline agent")
    else:
        log.info("language model endpoint: %s", endpoint.describe())
    return endpoint


def clear_endpoint_cache() -> None:
    """Forget cached resolutions (tests; after starting a local server)."""
    with _cache_lock:
        _cache.clear()


__all__ = [
    "LOCAL_SERVERS", "MODEL_ENV", "OPENAI_DEFAULT_BASE_URL", "OPENAI_DEFAULT_MODEL",
    "PROBE_ENV", "Endpoint", "clear_endpoint_cache", "fetch_model_ids", "probe_local",
    "probe_targets", "resolve_endpoint", "resolve_endpoint_cached",
]
