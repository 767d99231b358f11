"""The library manager keeps the embeddings model off a turn's path: an empty library
embeds nothing, and a library with documents has the model loaded from the session's
start (its first call loads it: a second's work that held up the first turn)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from manager_rig import SESSION, ManagerRig

from xtalk.models.interfaces import Embeddings
from xtalk.serving.events import ReplySpeculationRequested, RetrievalUpdated, SessionStarted
from xtalk.serving.managers.knowledge import LibraryManager
from xtalk.store import Store, sqlite_url

NOTES = ("The Vaillant boiler in the cellar was installed in March 2021; its warranty "
         "lasts seven years.")


class CountingEmbeddings(Embeddings):
    """A 2-d vector per text (its length, its words); counts its calls."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.documents = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return [[float(len(t)), float(len(t.split()))] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return [float(len(text)), float(len(text.split()))]


async def session(tmp_path: Path, with_document: bool
                  ) -> tuple[ManagerRig, CountingEmbeddings, Store]:
    store = Store.open(sqlite_url(tmp_path / "xtalk.db"))
    user = store.users.create_user("alice", "correct horse battery")
    if with_document:
        store.documents.add_document(user.id, "house.md", "text/markdown", NOTES)
    model = CountingEmbeddings()
    rig = ManagerRig(LibraryManager.bound_to(store), embeddings=model)
    await rig.publish(SessionStarted(session_id=SESSION, user_id=user.id))
    return rig, model, store


async def settled(rig: ManagerRig) -> None:
    filler = rig.manager._filler  # the session's background preparation
    if filler is not None:
        await asyncio.wait_for(filler, 10)


async def test_an_empty_library_embeds_nothing_on_a_turn(tmp_path: Path) -> None:
    rig, model, store = await session(tmp_path, with_document=False)
    await settled(rig)
    await rig.publish(ReplySpeculationRequested(session_id=SESSION, turn_id=1,
                                                text="How long is the warranty?"))
    assert model.queries == [] and rig.seen(RetrievalUpdated) == []
    store.close()


async def test_a_library_with_documents_has_the_model_ready_before_the_first_turn(
        tmp_path: Path) -> None:
    rig, model, store = await session(tmp_path, with_document=True)
    await settled(rig)
    assert len(model.queries) == 1 and model.documents == 1  # loaded; the chunk embedded
    await rig.publish(ReplySpeculationRequested(session_id=SESSION, turn_id=1,
                                                text="How long is the warranty?"))
    assert model.queries[-1] == "How long is the warranty?"
    [found] = rig.seen(RetrievalUpdated)
    assert "seven years" in found.text and found.speculative
    store.close()
