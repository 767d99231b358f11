"""Default agent: any OpenAI-compatible chat model, streamed, with tool calling.

The endpoint is the configured one, else found at first use (``OPENAI_API_KEY``, then a
local Ollama / llama.cpp / LM Studio server; see :mod:`xtalk.models.agents.endpoints`),
else the agent falls back to :class:`~xtalk.models.agents.offline.OfflineAgent` and
:attr:`DefaultAgent.connected` is ``False``.

Engine hooks (per session, on the session's clone):

* ``agent.set_tool_action_handler(fn)`` — ``fn(action, args)`` (sync or async) is called
  by the ``set_voice`` (``"set_voice", {"voice": name}``) and ``set_speed``
  (``"set_speed", {"speed": float}``) tools; the engine publishes
  ``VoiceChangeRequested`` / ``SpeedChangeRequested``. A returned string replaces the
  tool's confirmation; an exception is reported to the model as a failure.
* ``agent.set_retriever(fn)`` — ``fn: async (query) -> list[str]``; adds the
  ``search_documents`` tool.
* ``agent.set_memory(book)`` — a :class:`~xtalk.models.interfaces.MemoryBook`; adds the
  ``remember`` and ``forget`` tools.

Both also reach the offline fallback, which answers from the notes and the memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from xtalk.models.agents import endpoints as _endpoints
from xtalk.models.agents.builtin_tools import (
    Retriever,
    ToolActionCallback,
    make_builtin_tools,
)
from xtalk.models.agents.offline import OfflineAgent
from xtalk.models.interfaces import (
    Agent,
    AgentOutput,
    LLMEndpointError,
    MemoryBook,
    TextDelta,
    ToolActionHandler,
    ToolCallPending,
    ToolInvocation,
)
from xtalk.text.prompts import DEFAULT_SYSTEM_PROMPT

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4

# Per process: endpoints (base_url, model) known to reject / accept tool calling.
_NO_TOOLS: set[tuple[str, str]] = set()
_TOOLS_OK: set[tuple[str, str]] = set()


class LLMTimeoutError(LLMEndpointError, TimeoutError):
    """The language model did not answer within the request timeout."""


def forget_tool_support() -> None:
    """Forget which endpoints accept tools (tests)."""
    _NO_TOOLS.clear()
    _TOOLS_OK.clear()


def _secret(value: Any) -> str:
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter else value)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and len(secret) >= 4 else text


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def _is_connection_error(exc: BaseException) -> bool:
    """Unreachable or timed out (not a rejection of the request's content)."""
    try:
        import openai
    except ModuleNotFoundError:  # pragma: no cover
        return isinstance(exc, ConnectionError | TimeoutError)
    return isinstance(exc, openai.APIConnectionError | ConnectionError | TimeoutError)


def _is_timeout(exc: BaseException) -> bool:
    try:
        import openai
    except ModuleNotFoundError:  # pragma: no cover
        return isinstance(exc, TimeoutError)
    return isinstance(exc, openai.APITimeoutError | TimeoutError)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                parts.append(str(part.get("text", "")))
        return "".join(parts)
    return ""


def _tool_result_text(result: Any) -> str:
    result = getattr(result, "content", result)
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)


def _load_tool(spec: Any) -> Any:
    """A tool object, or ``"module:attribute"`` naming one (for JSON/YAML configs)."""
    if not isinstance(spec, str):
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep:
        raise ValueError(f"tool spec {spec!r} must be 'module:attribute'")
    return getattr(importlib.import_module(module_name), attr)


class _Backend:
    """Endpoint resolution and chat client, shared by an agent and its clones."""

    def __init__(self, model: Mapping[str, Any] | None, probe: bool,
                 probe_urls: Sequence[str | int] | str | None, timeout_s: float) -> None:
        self.model_config = dict(model or {})
        self.probe = probe
        self.probe_urls = probe_urls
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.resolved = False
        self.chat: Any = None
        self.base_url = ""
        self.model = ""

    @classmethod
    def from_chat(cls, chat: Any) -> _Backend:
        backend = cls(None, False, None, 30.0)
        backend._use_chat(chat)
        backend.resolved = True
        return backend

    def _use_chat(self, chat: Any) -> None:
        self.chat = chat
        self.base_url = str(getattr(chat, "openai_api_base", None)
                            or _endpoints.OPENAI_DEFAULT_BASE_URL).rstrip("/")
        self.model = str(getattr(chat, "model_name", None) or getattr(chat, "model", "") or "")

    @property
    def key(self) -> tuple[str, str]:
        return (self.base_url, self.model)

    @property
    def api_key(self) -> str:
        return _secret(getattr(self.chat, "openai_api_key", None))

    def resolve(self) -> None:
        """Resolve the endpoint and build the chat model (thread-safe). Once found, it is
        kept; while only probing could find one and nothing answered, the next call
        probes again (after the endpoint cache's negative period), so a local server
        started later is picked up."""
        if self.resolved:
            return
        with self.lock:
            if self.resolved:
                return
            endpoint = _endpoints.resolve_endpoint_cached(
                self.model_config, probe=self.probe, probe_urls=self.probe_urls)
            if endpoint is not None:
                from xtalk.models.agents.chat_openai import make_chat_openai

                local = endpoint.source not in ("config", "openai")
                self._use_chat(make_chat_openai(
                    model=endpoint.model, base_url=endpoint.base_url,
                    api_key=endpoint.api_key or ("not-needed" if local else ""),
                    extra_body=dict(endpoint.extra_body) if endpoint.extra_body else None,
                    timeout_s=self.timeout_s, max_retries=0))
            self.resolved = endpoint is not None or not self.probe

    def describe(self) -> str:
        if self.chat is None:
            return "offline (no language model connected)"
        return f"{self.base_url} (model {self.model})"


class DefaultAgent(Agent):
    """Streams replies from an OpenAI-compatible chat model, calling tools as needed.

    Args:
        model: ``{"base_url", "api_key", "model", "extra_body"}``; missing ``base_url`` or
            ``model`` (or ``None``) means "find one" at first use (see the module docstring).
        system_prompt: The agent's own system prompt: the engine puts it (with its context,
            such as retrieved excerpts) in the system message instead of its default; for
            a conversation without a system message the agent adds it (else
            :data:`DEFAULT_SYSTEM_PROMPT`). A system message it is given is never replaced.
        max_tokens: Reply token limit (sent as ``max_tokens``).
        temperature: Sampling temperature.
        tools: Extra LangChain tools (objects, or ``"module:attribute"`` strings).
        builtin_tools: Offer the built-in tools (time, set_voice, set_speed, documents).
        probe_local: Look for local servers on the loopback interface.
        request_timeout_s: Timeout of a request (connect and between streamed chunks).
        probe_urls: Servers to probe instead of Ollama / llama.cpp / LM Studio (ports or base
            URLs; default: ``XTALK_LLM_PROBE_URLS`` or the standard ports).
        max_tool_rounds: Tool-calling rounds per reply before the model must answer.
    """

    def __init__(self, model: dict | None = None, system_prompt: str | None = None,
                 max_tokens: int = 256, temperature: float = 0.6, tools: list | None = None,
                 builtin_tools: bool = True, probe_local: bool = True,
                 request_timeout_s: float = 30.0,
                 probe_urls: Sequence[str | int] | str | None = None,
                 max_tool_rounds: int = MAX_TOOL_ROUNDS) -> None:
        if model is not None and not isinstance(model, Mapping):
            raise ValueError("model must be an object with base_url, api_key, model")
        if max_tokens <= 0:
            raise ValueError("max_tokens must be positive")
        if request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be positive")
        self.system_prompt = system_prompt
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.builtin_tools = bool(builtin_tools)
        self.request_timeout_s = float(request_timeout_s)
        self.max_tool_rounds = int(max_tool_rounds)
        self._backend = _Backend(model, probe_local, probe_urls, self.request_timeout_s)
        self._user_tools: list[Any] = [_load_tool(t) for t in (tools or [])]
        self._builtins: list[Any] | None = None
        self._retriever: Retriever | None = None
        self._memory: MemoryBook | None = None
        #: ``fn(action, args)`` called by the set_voice / set_speed tools (set by the engine).
        self.on_tool_action: ToolActionCallback | None = None
        self._offline = OfflineAgent()

    def __repr__(self) -> str:
        state = self._backend.describe() if self._backend.resolved else "unresolved"
        return f"DefaultAgent({state})"

    # ------------------------------------------------------------------ endpoint
    def set_chat_model(self, chat: Any) -> None:
        """Use ``chat`` (a LangChain ``ChatOpenAI``) from now on (this agent only, not the
        agents it was cloned from or to)."""
        self._backend = _Backend.from_chat(chat)

    @property
    def chat_model(self) -> Any:
        """The chat model in use (``None`` when offline); resolves the endpoint."""
        self._backend.resolve()
        return self._backend.chat

    @property
    def connected(self) -> bool:
        """Whether a language model endpoint was found (resolves it on first access, which
        may probe local ports for a fraction of a second)."""
        self._backend.resolve()
        return self._backend.chat is not None

    def describe_endpoint(self) -> str:
        """``"<base_url> (model <name>)"`` or ``"offline (...)"`` — never the API key."""
        self._backend.resolve()
        return self._backend.describe()

    async def aresolve(self) -> bool:
        """Resolve the endpoint without blocking the event loop; returns :attr:`connected`."""
        if not self._backend.resolved:
            await asyncio.to_thread(self._backend.resolve)
        return self._backend.chat is not None

    # ------------------------------------------------------------------ tools
    @property
    def retriever(self) -> Retriever | None:
        return self._retriever

    def set_tool_action_handler(self, handler: ToolActionHandler | None) -> None:
        """The session's handler for the set_voice / set_speed tools' actions."""
        self.on_tool_action = handler

    def set_retriever(self, fn: Retriever | None) -> None:
        """Search documents with ``fn`` (``async (query) -> list[str]``); ``None`` removes
        the ``search_documents`` tool."""
        self._retriever = fn
        self._offline.set_retriever(fn)
        self._builtins = None

    @property
    def memory(self) -> MemoryBook | None:
        return self._memory

    def set_memory(self, book: MemoryBook | None) -> None:
        """Remember with ``book``; ``None`` removes the ``remember`` / ``forget`` tools."""
        self._memory = book
        self._offline.set_memory(book)
        self._builtins = None

    def add_tools(self, tools: Sequence[Any]) -> None:
        """Make LangChain tools available (a tool with a built-in's name replaces it)."""
        self._user_tools.extend(_load_tool(t) for t in tools)

    @property
    def tools(self) -> list[Any]:
        """The tools offered to the model: built-ins, then added tools (unique names; the
        last one with a name wins)."""
        if self.builtin_tools and self._builtins is None:
            self._builtins = make_builtin_tools(self)
        by_name: dict[str, Any] = {}
        for tool in [*(self._builtins or []), *self._user_tools]:
            name = str(getattr(tool, "name", tool))
            by_name.pop(name, None)
            by_name[name] = tool
        return list(by_name.values())

    def clone(self) -> DefaultAgent:
        """A new agent sharing the chat client and endpoint resolution, with a copy of the
        tool list, the same retriever and no ``on_tool_action`` hook."""
        other = DefaultAgent.__new__(DefaultAgent)
        other.system_prompt = self.system_prompt
        other.max_tokens = self.max_tokens
        other.temperature = self.temperature
        other.builtin_tools = self.builtin_tools
        other.request_timeout_s = self.request_timeout_s
        other.max_tool_rounds = self.max_tool_rounds
        other._backend = self._backend
        other._user_tools = list(self._user_tools)
        other._builtins = None
        other._retriever = self._retriever
        other._memory = self._memory
        other.on_tool_action = None
        other._offline = self._offline.clone()
        return other

    async def _run_tool(self, tools: Mapping[str, Any], name: str, args: dict[str, Any]) -> str:
        tool = tools.get(name)
        if tool is None:
            return f"Error: there is no tool named {name!r}."
        try:
            if hasattr(tool, "ainvoke"):
                result = await tool.ainvoke(args)
            else:
                result = await asyncio.to_thread(tool.invoke, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("tool %s failed: %s: %s", name, type(exc).__name__,
                        _redact(str(exc), self._backend.api_key))
            return f"Error: the tool {name} failed ({type(exc).__name__}: {exc})."
        return _tool_result_text(result)

    # ------------------------------------------------------------------ messages
    def _to_messages(self, messages: Sequence[Any]) -> list[Any]:
        from langchain_core.messages import (
            AIMessage,
            BaseMessage,
            HumanMessage,
            SystemMessage,
            ToolMessage,
        )

        out: list[Any] = []
        for message in messages:
            if isinstance(message, BaseMessage):
                out.append(message)
                continue
            role = str(message.get("role", "user"))
            content = message.get("content")
            text = content if isinstance(content, str | list) else _content_text(content)
            if role == "system":
                out.append(SystemMessage(content=text))
            elif role in ("assistant", "ai"):
                out.append(AIMessage(content=text or ""))
            elif role == "tool":
                out.append(ToolMessage(content=text or "",
                                       tool_call_id=str(message.get("tool_call_id") or "")))
            else:
                out.append(HumanMessage(content=text or ""))
        if not (out and isinstance(out[0], SystemMessage)):
            out.insert(0, SystemMessage(content=self.system_prompt or DEFAULT_SYSTEM_PROMPT))
        return out

    # ------------------------------------------------------------------ errors
    def _error(self, exc: Exception) -> LLMEndpointError:
        """A safe exception for ``exc`` (endpoint named, API key redacted)."""
        secret = self._backend.api_key
        chain = _exception_chain(exc)
        status = _status_code(exc)
        detail = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
        message = str(exc).strip()
        if message:
            detail += f": {message}"
        text = f"LLM request to {self._backend.describe()} failed: {detail}"
        cls = LLMTimeoutError if any(_is_timeout(e) for e in chain) else LLMEndpointError
        leaked = bool(secret) and len(secret) >= 4 and any(
            secret in str(e) or secret in repr(e) for e in chain)
        error = cls(_redact(text, secret))
        if not leaked:
            error.__cause__ = exc
        error.__suppress_context__ = True
        return error

    @staticmethod
    def _rejects_tools(exc: Exception) -> bool:
        """The error looks like "this server/model has no tool calling" (a client error, or
        any error mentioning tools — e.g. llama.cpp's HTTP 500 without ``--jinja``)."""
        return _status_code(exc) in (400, 422) or "tool" in str(exc).lower()

    def _retry_without_tools(self, exc: Exception, endpoint: tuple[str, str]) -> bool:
        """Whether a failed request with tools should be retried without them."""
        if _is_connection_error(exc):
            return False  # unreachable / slow: retrying would only double the wait
        if endpoint not in _TOOLS_OK:
            return True  # first request with tools to this endpoint: any rejection
        status = _status_code(exc)
        return status in (400, 422, 500) and "tool" in str(exc).lower()

    # ------------------------------------------------------------------ streaming
    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[AgentOutput]:
        """Stream the reply to ``messages`` (the conversation, system prompt first).

        Yields:
            :class:`TextDelta` pieces and, for each tool call, a :class:`ToolCallPending`
            (the tool runs when the next item is asked for) and a :class:`ToolInvocation`
            (after it ran) before the model continues.

        Raises:
            LLMEndpointError: The endpoint is unreachable, failed or timed out
                (:class:`LLMTimeoutError`); the message never contains the API key.
        """
        if not self._backend.resolved:
            await asyncio.to_thread(self._backend.resolve)
        backend = self._backend
        if backend.chat is None:
            async for item in self._offline.astream(messages):
                yield item
            return

        from langchain_core.messages import AIMessage, ToolMessage

        chat, endpoint = backend.chat, backend.key
        history = self._to_messages(messages)
        tools = self.tools
        by_name = {str(getattr(t, "name", "")): t for t in tools}
        use_tools = bool(tools) and endpoint not in _NO_TOOLS
        # A request with tools was rejected: remember "no tools" if the retry succeeds.
        suspect_no_tools = False
        rounds = 0
        options = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        while True:
            with_tools = use_tools
            if with_tools:
                choice = {"tool_choice": "none"} if rounds >= self.max_tool_rounds else {}
                runnable = chat.bind_tools(tools, **choice)
            else:
                runnable = chat
            full: Any = None
            produced = False
            failure: LLMEndpointError | None = None
            try:
                # aclosing: a cancelled reply (barge-in) closes the HTTP stream at once, which
                # also stops generation on local servers.
                async with contextlib.aclosing(runnable.astream(history, **options)) as chunks:
                    async for chunk in chunks:
                        full = chunk if full is None else full + chunk
                        text = _content_text(chunk.content)
                        if text:
                            produced = True
                            yield TextDelta(text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if with_tools and not produced and rounds == 0 \
                        and self._retry_without_tools(exc, endpoint):
                    log.warning("%s rejected a request with tools (%s); retrying without "
                                "tools", backend.describe(), _status_code(exc)
                                or type(exc).__name__)
                    use_tools = False
                    # Other errors (e.g. a bare 500) get the retry without being remembered.
                    suspect_no_tools = self._rejects_tools(exc)
                    continue
                failure = self._error(exc)
            if failure is not None:
                # Raised outside the except block: no implicit __context__ that could carry
                # the key; the original error is the __cause__ unless its text has the key.
                raise failure
            if with_tools:
                _TOOLS_OK.add(endpoint)
            elif suspect_no_tools:
                suspect_no_tools = False
                _NO_TOOLS.add(endpoint)
                log.warning("%s does not support tool calling; tools are disabled for it",
                            backend.describe())
            if full is None or not with_tools or rounds >= self.max_tool_rounds:
                return
            calls = [dict(c) for c in getattr(full, "tool_calls", None) or []]
            invalid = [dict(c) for c in getattr(full, "invalid_tool_calls", None) or []]
            if not calls and not invalid:
                return
            rounds += 1
            for call in [*calls, *invalid]:
                call["id"] = call.get("id") or f"call_{uuid.uuid4().hex[:12]}"
            history.append(AIMessage(
                content=_content_text(full.content),
                tool_calls=[{"name": c["name"], "args": c.get("args") or {}, "id": c["id"],
                             "type": "tool_call"} for c in calls],
                invalid_tool_calls=invalid))
            for call in calls:
                args = dict(call.get("args") or {})
                yield ToolCallPending(name=str(call["name"]), args=dict(args))
                result = await self._run_tool(by_name, str(call["name"]), args)
                yield ToolInvocation(name=str(call["name"]), args=args, result=result)
                history.append(ToolMessage(content=result, tool_call_id=call["id"],
                                           name=str(call["name"])))
            for call in invalid:
                name = str(call.get("name") or "")
                result = f"Error: the arguments for {name or 'the tool'} were not valid JSON."
                yield ToolInvocation(name=name, args={}, result=result)
                history.append(ToolMessage(content=result, tool_call_id=call["id"],
                                           name=name))


__all__ = [
    "DEFAULT_SYSTEM_PROMPT", "DefaultAgent", "LLMEndpointError", "LLMTimeoutError",
    "forget_tool_support",
]
