"""DefaultAgent against a scripted OpenAI-compatible server; endpoint resolution; offline."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from langchain_core.tools import tool
from llm_server import Fail, Hang, NoDone, ScriptedLLMServer, Text, ToolCall, free_port

from xtalk.models.agents import endpoints
from xtalk.models.agents.default import (
    DEFAULT_SYSTEM_PROMPT,
    DefaultAgent,
    LLMEndpointError,
    LLMTimeoutError,
    forget_tool_support,
)
from xtalk.models.agents.offline import (
    NOT_CONNECTED,
    NOT_CONNECTED_AGAIN,
    OfflineAgent,
    offline_reply,
)
from xtalk.models.interfaces import TextDelta, ToolCallPending, ToolInvocation
from xtalk.text.speakable import make_speakable

SECRET = "sk-test-SECRET-0123456789abcdef"
CONVERSATION = [
    {"role": "system", "content": "You are Xtalk, be brief."},
    {"role": "user", "content": "Hi there."},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Tell me something nice."},
]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", endpoints.MODEL_ENV, endpoints.PROBE_ENV):
        monkeypatch.delenv(name, raising=False)
    endpoints.clear_endpoint_cache()
    forget_tool_support()
    yield
    endpoints.clear_endpoint_cache()
    forget_tool_support()


def make_agent(server: ScriptedLLMServer, **kwargs: Any) -> DefaultAgent:
    model = {"base_url": server.base_url, "api_key": SECRET, "model": server.model_ids[0]}
    kwargs.setdefault("builtin_tools", False)
    return DefaultAgent(model=model, **kwargs)


async def collect(agent: Any, messages: list[dict[str, Any]] | None = None) -> list[Any]:
    return [item async for item in agent.astream(messages or CONVERSATION)]


def text_of(items: list[Any]) -> str:
    return "".join(i.text for i in items if isinstance(i, TextDelta))


@tool
def add_numbers(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# --------------------------------------------------------------------------- streaming
async def test_streams_text_as_several_deltas(llm_server: ScriptedLLMServer) -> None:
    reply = "Sunshine is free, and so is a good laugh."
    llm_server.script(reply)
    items = await collect(make_agent(llm_server))
    deltas = [i for i in items if isinstance(i, TextDelta)]
    assert len(deltas) >= 5
    assert text_of(items) == reply
    request = llm_server.last_request
    assert request["stream"] is True
    assert request["max_tokens"] == 256
    assert "max_completion_tokens" not in request
    assert request["temperature"] == pytest.approx(0.6)
    assert request["model"] == "scripted-model"
    assert "tools" not in request
    assert [(m["role"], m["content"]) for m in request["messages"]] == [
        (m["role"], m["content"]) for m in CONVERSATION]
    assert llm_server.auth_headers[-1] == f"Bearer {SECRET}"


async def test_system_prompt_default_and_override(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("One.", "Two.")
    user_only = [{"role": "user", "content": "Hello"}]
    await collect(make_agent(llm_server), user_only)
    first = llm_server.requests[0]["messages"]
    assert first[0] == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
    assert "spoken" in DEFAULT_SYSTEM_PROMPT and "short" in DEFAULT_SYSTEM_PROMPT
    pirate = make_agent(llm_server, system_prompt="Speak like a pirate.", max_tokens=42)
    await collect(pirate, user_only)
    second = llm_server.requests[1]
    assert second["messages"][0] == {"role": "system", "content": "Speak like a pirate."}
    assert second["max_tokens"] == 42
    # a system message it is given (the engine's: its prompt and context) is kept as it is
    llm_server.script("Three.")
    await collect(pirate)
    third = llm_server.requests[2]
    assert third["messages"][0] == CONVERSATION[0]
    assert [m["role"] for m in third["messages"]] == ["system", "user", "assistant", "user"]


async def test_closing_the_stream_stops_the_reply(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Text("one two three four five six seven eight", token_delay_s=0.3),
                      "Next reply.")
    agent = make_agent(llm_server)
    stream = agent.astream(CONVERSATION)
    first = await anext(stream)
    start = time.monotonic()
    await stream.aclose()  # what the engine does on barge-in
    assert time.monotonic() - start < 0.5
    assert first == TextDelta("one")  # the first token; the next is " two"
    assert text_of(await collect(agent)) == "Next reply."


# --------------------------------------------------------------------------- tools
async def test_tool_call_round(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(ToolCall("add_numbers", {"a": 2, "b": 3}, id="call_add"),
                      "Two plus three is five.")
    agent = make_agent(llm_server)
    agent.add_tools([add_numbers])
    items = await collect(agent)
    invocations = [i for i in items if isinstance(i, ToolInvocation)]
    assert invocations == [ToolInvocation("add_numbers", {"a": 2, "b": 3}, "5")]
    assert text_of(items) == "Two plus three is five."
    assert len(llm_server.requests) == 2
    first, second = llm_server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["add_numbers"]
    assistant = second["messages"][-2]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == "call_add"
    assert assistant["tool_calls"][0]["function"]["name"] == "add_numbers"
    tool_message = second["messages"][-1]
    assert (tool_message["role"], tool_message["content"], tool_message["tool_call_id"]) == (
        "tool", "5", "call_add")
    assert second["max_tokens"] == 256


async def test_builtin_time_tool(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(ToolCall("get_current_time"), "It is time for tea.")
    agent = make_agent(llm_server, builtin_tools=True)
    items = await collect(agent)
    names = [t["function"]["name"] for t in llm_server.requests[0]["tools"]]
    assert names == ["get_current_time", "set_voice", "set_speed"]
    (call,) = [i for i in items if isinstance(i, ToolInvocation)]
    assert call.name == "get_current_time"
    assert call.result.startswith("It's ") and (" AM on " in call.result
                                                 or " PM on " in call.result)
    assert str(time.localtime().tm_year) in call.result
    assert llm_server.requests[1]["messages"][-1]["content"] == call.result
    assert text_of(items) == "It is time for tea."


async def test_voice_and_speed_tools_use_the_hook(llm_server: ScriptedLLMServer) -> None:
    agent = make_agent(llm_server, builtin_tools=True)
    llm_server.script(ToolCall("set_voice", {"voice": "alba"}), "Done.")
    items = await collect(agent)
    assert items[0] == ToolCallPending("set_voice", {"voice": "alba"})  # announced first
    assert "can't change my voice" in items[1].result  # no hook yet

    actions: list[tuple[str, dict]] = []

    async def hook(action: str, args: dict) -> None:
        actions.append((action, args))

    agent.on_tool_action = hook
    llm_server.script(ToolCall("set_voice", {"voice": "alba"}), "Done.",
                      ToolCall("set_speed", {"speed": 1.25}), "Faster now.",
                      ToolCall("set_speed", {"speed": 9}), "Too fast.")
    for _ in range(3):
        items = await collect(agent)
    assert actions == [("set_voice", {"voice": "alba"}), ("set_speed", {"speed": 1.25})]
    assert "between" in items[1].result  # 9 is out of range, hook not called
    agent.on_tool_action = lambda action, args: "There is no voice named bob."
    llm_server.script(ToolCall("set_voice", {"voice": "bob"}), "Sorry.")
    items = await collect(agent)
    assert items[1].result == "There is no voice named bob."


async def test_retriever_adds_search_documents(llm_server: ScriptedLLMServer) -> None:
    agent = make_agent(llm_server, builtin_tools=True)
    assert "search_documents" not in [t.name for t in agent.tools]
    queries: list[str] = []

    async def retrieve(query: str) -> list[str]:
        queries.append(query)
        return ["The warranty lasts two years.", "Returns take 30 days."]

    agent.set_retriever(retrieve)
    assert "search_documents" in [t.name for t in agent.tools]
    llm_server.script(ToolCall("search_documents", {"query": "warranty"}), "Two years.")
    items = await collect(agent)
    assert queries == ["warranty"]
    assert "warranty lasts two years" in items[1].result
    assert "search_documents" in [t["function"]["name"]
                                  for t in llm_server.requests[0]["tools"]]


async def test_server_rejecting_tools_is_retried_without_and_remembered() -> None:
    with ScriptedLLMServer(reject_tools=True) as server:
        server.script("Fine, no tools then.", "Still fine.")
        agent = make_agent(server, builtin_tools=True)
        items = await collect(agent)
        assert text_of(items) == "Fine, no tools then."
        assert [("tools" in r) for r in server.requests] == [True, False]
        items = await collect(agent.clone())
        assert text_of(items) == "Still fine."
        assert [("tools" in r) for r in server.requests] == [True, False, False]


async def test_bare_500_with_tools_is_retried_but_not_remembered(
        llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Fail(500, "overloaded"), "Answer without tools.", "With tools again.")
    agent = make_agent(llm_server, builtin_tools=True)
    assert text_of(await collect(agent)) == "Answer without tools."
    assert text_of(await collect(agent)) == "With tools again."
    assert [("tools" in r) for r in llm_server.requests] == [True, False, True]


async def test_tool_rounds_are_limited(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(*[ToolCall("add_numbers", {"a": i, "b": 1}) for i in range(6)])
    agent = make_agent(llm_server, max_tool_rounds=2)
    agent.add_tools([add_numbers])
    items = await collect(agent)
    assert len([i for i in items if isinstance(i, ToolInvocation)]) == 2
    assert len(llm_server.requests) == 3
    assert llm_server.requests[-1]["tool_choice"] == "none"


async def test_unknown_and_failing_tools_report_errors(llm_server: ScriptedLLMServer) -> None:
    @tool
    async def explode() -> str:
        """Always fails."""
        raise RuntimeError("kaboom")

    agent = make_agent(llm_server)
    agent.add_tools([explode])
    llm_server.script([ToolCall("explode"), ToolCall("nope")], "Something went wrong.")
    items = await collect(agent)
    results = {i.name: i.result for i in items if isinstance(i, ToolInvocation)}
    assert "kaboom" in results["explode"] and "no tool named" in results["nope"]
    assert text_of(items) == "Something went wrong."


# --------------------------------------------------------------------------- failures
async def test_endpoint_down_raises_quickly() -> None:
    port = free_port()
    agent = DefaultAgent(model={"base_url": f"http://127.0.0.1:{port}/v1", "model": "m"},
                         request_timeout_s=5)
    start = time.monotonic()
    with pytest.raises(LLMEndpointError):
        await collect(agent)
    assert time.monotonic() - start < 3


async def test_http_500_raises(llm_server: ScriptedLLMServer) -> None:
    import openai

    llm_server.script(Fail(500, "the GPU caught fire"))
    with pytest.raises(LLMEndpointError, match="500") as info:
        await collect(make_agent(llm_server))
    assert "GPU caught fire" in str(info.value)
    assert isinstance(info.value.__cause__, openai.InternalServerError)


async def test_hang_raises_by_the_request_timeout(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Hang(10))
    agent = make_agent(llm_server, request_timeout_s=0.5, builtin_tools=True)
    start = time.monotonic()
    with pytest.raises(LLMTimeoutError) as info:
        await collect(agent)
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - start < 1.5  # no retry, no second try without tools
    assert len(llm_server.requests) == 1


async def test_reply_without_done(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(NoDone("Half a", then="hang"), NoDone("Cut short", then="close"))
    agent = make_agent(llm_server, request_timeout_s=0.5)
    items: list[Any] = []
    with pytest.raises(LLMTimeoutError):
        async for item in agent.astream(CONVERSATION):
            items.append(item)
    assert text_of(items) == "Half a"
    assert text_of(await collect(agent)) == "Cut short"


async def test_api_key_never_leaks(llm_server: ScriptedLLMServer,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    agent = make_agent(llm_server, builtin_tools=True)
    llm_server.script("Fine.", Fail(401, f"Incorrect API key provided: {SECRET}"))
    assert text_of(await collect(agent)) == "Fine."
    assert llm_server.auth_headers[-1] == f"Bearer {SECRET}"
    assert llm_server.base_url in agent.describe_endpoint()
    assert "scripted-model" in agent.describe_endpoint()
    with pytest.raises(LLMEndpointError) as info:
        await collect(agent)
    error = info.value
    assert "401" in str(error) and "***" in str(error)
    assert error.__cause__ is None and error.__context__ is None
    for text in (agent.describe_endpoint(), repr(agent), str(error), repr(error),
                 caplog.text):
        assert SECRET not in text


# --------------------------------------------------------------------------- resolution
def test_probe_targets() -> None:
    assert endpoints.probe_targets(env={}) == list(endpoints.LOCAL_SERVERS)
    assert endpoints.probe_targets(env={endpoints.PROBE_ENV: ""}) == []
    assert endpoints.probe_targets("8080, http://10.0.0.2:9000/v1/", env={}) == [
        ("llama.cpp", "http://127.0.0.1:8080/v1"), ("local", "http://10.0.0.2:9000/v1")]
    assert endpoints.probe_targets([4321], env={}) == [("local", "http://127.0.0.1:4321/v1")]


def test_resolution_order(llm_server: ScriptedLLMServer) -> None:
    probe = [llm_server.port]
    # An OpenAI key wins over a local server.
    env = {"OPENAI_API_KEY": SECRET}
    ep = endpoints.resolve_endpoint(probe_urls=probe, env=env)
    assert (ep.base_url, ep.model, ep.source) == ("https://api.openai.com/v1", "gpt-4o-mini",
                                                  "openai")
    assert ep.api_key == SECRET and SECRET not in repr(ep) and SECRET not in ep.describe()
    env |= {"OPENAI_BASE_URL": "https://llm.example/v1/", endpoints.MODEL_ENV: "big-1"}
    ep = endpoints.resolve_endpoint(probe_urls=probe, env=env)
    assert (ep.base_url, ep.model) == ("https://llm.example/v1", "big-1")
    assert llm_server.models_requests == 0
    # No key: the probe finds the scripted server and takes its first model id.
    ep = endpoints.resolve_endpoint(probe_urls=probe, env={})
    assert (ep.base_url, ep.model, ep.api_key) == (llm_server.base_url, "scripted-model", "")
    assert llm_server.models_requests == 1
    # A configured model name is kept; probing can be disabled.
    ep = endpoints.resolve_endpoint({"model": "other"}, probe_urls=probe, env={})
    assert ep.model == "other"
    assert endpoints.resolve_endpoint(probe=False, env={}) is None
    # Nothing reachable: None (offline).
    assert endpoints.resolve_endpoint(probe_urls=[free_port()], env={}) is None
    # A base_url without a model asks that server.
    ep = endpoints.resolve_endpoint({"base_url": llm_server.base_url}, env={})
    assert (ep.model, ep.source) == ("scripted-model", "config")


def test_probe_is_fast_with_nothing_listening() -> None:
    start = time.monotonic()
    assert endpoints.probe_local([("a", f"http://127.0.0.1:{free_port()}/v1"),
                                  ("b", f"http://127.0.0.1:{free_port()}/v1")]) is None
    assert time.monotonic() - start < 1.0


async def test_agent_resolves_lazily_via_env(llm_server: ScriptedLLMServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(endpoints.PROBE_ENV, str(llm_server.port))
    agent = DefaultAgent(builtin_tools=False)
    clone = agent.clone()
    assert llm_server.models_requests == 0  # building the config does not probe
    llm_server.script("Found you.", "Me too.")
    assert text_of(await collect(agent)) == "Found you."
    assert agent.connected
    assert agent.describe_endpoint() == f"{llm_server.base_url} (model scripted-model)"
    assert text_of(await collect(clone)) == "Me too."
    assert DefaultAgent().connected  # cached per process: no new probe
    assert llm_server.models_requests == 1
    assert llm_server.auth_headers[0] == "Bearer not-needed"


async def test_openai_key_wins_for_the_agent(llm_server: ScriptedLLMServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(endpoints.PROBE_ENV, str(llm_server.port))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)  # a stand-in for OpenAI
    monkeypatch.setenv(endpoints.MODEL_ENV, "gpt-test")
    agent = DefaultAgent(builtin_tools=False)
    llm_server.script("From the cloud.")
    assert text_of(await collect(agent)) == "From the cloud."
    assert llm_server.requests[0]["model"] == "gpt-test"
    assert llm_server.auth_headers[0] == f"Bearer {SECRET}"
    assert llm_server.models_requests == 0
    assert SECRET not in agent.describe_endpoint()


async def test_agent_falls_back_to_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(endpoints.PROBE_ENV, str(free_port()))
    agent = DefaultAgent()
    assert not agent.connected
    assert "offline" in agent.describe_endpoint()
    items = await collect(agent, [{"role": "user", "content": "Tell me a story."}])
    assert all(isinstance(i, TextDelta) for i in items) and len(items) > 5
    assert text_of(items) == NOT_CONNECTED
    items = await collect(agent, [{"role": "user", "content": "What time is it?"}])
    assert text_of(items).startswith("It's ")


# --------------------------------------------------------------------------- offline agent
async def test_offline_agent_answers() -> None:
    agent = OfflineAgent()
    assert agent.connected is False

    async def say(text: str) -> str:
        return text_of(await collect(agent, [{"role": "user", "content": text}]))

    assert (await say("What time is it?")).startswith("It's ")
    assert (await say("What's the date today?")).startswith("Today is ")
    assert "language model" in await say("What can you do?")
    assert (await say("Hello!")).startswith("Hello")
    reply = await say("Write me a poem about the sea.")
    assert reply == NOT_CONNECTED
    assert "not connected to a language model" in reply and "OpenAI API key" in reply
    assert "Ollama" in reply and "settings" in reply
    assert offline_reply("what time and date is it").count("on") >= 1
    assert agent.clone() is not agent


async def test_offline_agent_speaks_the_key_name_as_words() -> None:
    # Piper read "OPENAI_API_KEY" as "OpenIAVIKY"
    for reply in (NOT_CONNECTED, offline_reply("help")):
        assert "_" not in reply and "OpenAI API key" in reply
        assert "_" not in make_speakable(reply)


@pytest.mark.parametrize(("said", "reply"), [
    ("Thanks.", "You're welcome."), ("thank you very much", "You're welcome."),
    ("Yes.", "Okay."), ("No", "Okay."), ("Stop!", "Okay."), ("okay", "Okay."),
    ("Bye!", "Goodbye!"),
])
async def test_offline_agent_answers_short_replies_briefly(said: str, reply: str) -> None:
    items = await collect(OfflineAgent(), [{"role": "user", "content": said}])
    assert text_of(items) == reply


async def test_offline_agent_explains_in_full_once_per_conversation() -> None:
    agent = OfflineAgent()
    history: list[dict[str, str]] = []

    async def say(text: str) -> str:
        history.append({"role": "user", "content": text})
        reply = text_of(await collect(agent, list(history)))
        history.append({"role": "assistant", "content": reply})
        return reply

    assert await say("Tell me a story.") == NOT_CONNECTED
    again = await say("How tall is the Eiffel Tower?")
    assert again == NOT_CONNECTED_AGAIN and len(again) < len(NOT_CONNECTED) / 2
    assert "help" in again
    assert "OpenAI API key" in await say("help")
    # a new conversation hears the full explanation again
    assert text_of(await collect(agent, [{"role": "user", "content": "Sing."}])) == NOT_CONNECTED


# --------------------------------------------------------------------------- integration
async def test_pipeline_set_llm_model_switches_server(llm_server: ScriptedLLMServer) -> None:
    from xtalk.models.asr.testing import ToneCodeASR
    from xtalk.models.tts.testing import ToneCodeTTS
    from xtalk.pipelines.default import DefaultPipeline

    agent = make_agent(llm_server)
    pipeline = DefaultPipeline(asr=ToneCodeASR(), llm_agent=agent, tts=ToneCodeTTS())
    llm_server.script("From A.")
    assert text_of(await collect(pipeline.get_agent())) == "From A."
    with ScriptedLLMServer(model="model-b") as other:
        other.script("From B.")
        pipeline.set_llm_model(model="model-b", base_url=other.base_url, api_key="key-b")
        assert text_of(await collect(pipeline.get_agent())) == "From B."
        assert other.last_request["model"] == "model-b"
        assert other.last_request["max_tokens"] == 256
        assert other.auth_headers[-1] == "Bearer key-b"
        assert agent.describe_endpoint() == f"{other.base_url} (model model-b)"
    assert len(llm_server.requests) == 1


def test_registry_builds_default_agent(llm_server: ScriptedLLMServer) -> None:
    import xtalk.models.agents as agents_pkg
    from xtalk.registry import build_model

    model = {"base_url": llm_server.base_url, "api_key": SECRET, "model": "scripted-model"}
    agent = build_model("llm_agent", {"type": "DefaultAgent", "params": {
        "model": model, "max_tokens": 64}})
    assert isinstance(agent, DefaultAgent) and agent.max_tokens == 64
    assert agents_pkg.DefaultAgent is DefaultAgent
    assert isinstance(build_model("llm_agent", "OfflineAgent"), OfflineAgent)
    assert agent.connected and llm_server.models_requests == 0


def test_clone_shares_client_and_copies_tools(llm_server: ScriptedLLMServer) -> None:
    agent = make_agent(llm_server, builtin_tools=True)
    agent.on_tool_action = lambda action, args: None
    clone = agent.clone()
    assert clone.chat_model is agent.chat_model
    assert clone.on_tool_action is None
    clone.add_tools([add_numbers])
    assert "add_numbers" in [t.name for t in clone.tools]
    assert "add_numbers" not in [t.name for t in agent.tools]
    clone.set_chat_model(type(agent.chat_model)(model="x", base_url=llm_server.base_url,
                                                api_key="k"))
    assert clone.chat_model is not agent.chat_model


async def test_a_local_server_started_later_is_picked_up(monkeypatch: pytest.MonkeyPatch):
    """Nothing answered the probe: the agent answers offline, and probes again once the
    endpoint cache's negative period is over (cleared here) — it does not stay offline."""
    monkeypatch.setenv(endpoints.PROBE_ENV, str(free_port()))
    agent = DefaultAgent(builtin_tools=False)
    assert not await agent.aresolve()
    assert "language model" in text_of(await collect(agent))
    with ScriptedLLMServer() as server:
        server.script("Now I'm here.")
        monkeypatch.setenv(endpoints.PROBE_ENV, str(server.port))
        endpoints.clear_endpoint_cache()
        assert text_of(await collect(agent.clone())) == "Now I'm here."
        assert agent.connected
