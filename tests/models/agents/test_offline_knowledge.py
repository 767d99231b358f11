"""The offline agent with a memory book and a retriever: "remember …", "what do you
remember", "forget …", answers from a fact or from the notes; and the default agent's
remember / forget tools."""

from __future__ import annotations

import pytest

from xtalk.models.agents.builtin_tools import make_builtin_tools
from xtalk.models.agents.offline import NOT_CONNECTED, OfflineAgent
from xtalk.models.agents.offline_knowledge import (
    NOTHING_REMEMBERED,
    best_sentences,
    second_person,
)
from xtalk.models.interfaces import MemoryBook

NOTES = ("The Vaillant boiler in the cellar was installed in March 2021. Its warranty lasts "
         "seven years from installation. The service company is called Heatwise.")


class Book(MemoryBook):
    """A memory book in a list (the store's own is tested with the store)."""

    def __init__(self) -> None:
        self.facts: list[str] = []

    async def remember(self, fact: str) -> str:
        if not fact.strip():
            raise ValueError("a fact cannot be empty")
        self.facts.append(fact.strip().rstrip(".") + ".")
        return self.facts[-1]

    async def forget(self, about: str) -> list[str]:
        gone = [f for f in self.facts if about.lower() in f.lower()]
        self.facts = [f for f in self.facts if f not in gone]
        return gone

    async def recall(self) -> list[str]:
        return list(self.facts)


async def notes(query: str) -> list[str]:
    return [NOTES]


async def reply(agent: OfflineAgent, text: str) -> str:
    return "".join([piece.text async for piece in agent.astream(
        [{"role": "user", "content": text}])])


async def test_remember_recall_answer_and_forget() -> None:
    agent, book = OfflineAgent(), Book()
    agent.set_memory(book)
    said = await reply(agent, "Remember that my sister is called Annabel.")
    assert book.facts == ["my sister is called Annabel."]
    assert said == "Okay, I'll remember that. Your sister is called Annabel."
    assert "Annabel" in await reply(agent, "What is my sister called?")
    assert "Annabel" in await reply(agent, "What do you remember about me?")
    assert "forgot" in (await reply(agent, "Forget my sister.")).lower()
    assert book.facts == []
    assert await reply(agent, "What do you remember?") == NOTHING_REMEMBERED
    assert "didn't have anything" in await reply(agent, "Forget about my car")


async def test_answers_from_the_notes_only_to_questions() -> None:
    agent = OfflineAgent()
    agent.set_retriever(notes)
    answer = await reply(agent, "How long does the warranty last?")
    assert answer.startswith("From your notes:") and "seven years" in answer
    assert await reply(agent, "Sing me a song") == NOT_CONNECTED
    assert "It's" in await reply(agent, "What time is it?")  # its own answers come first
    clone = agent.clone()
    assert (await reply(clone, "Who services the boiler?")).startswith("From your notes:")


async def test_without_knowledge_it_says_it_is_not_connected() -> None:
    assert await reply(OfflineAgent(), "What is my sister called?") == NOT_CONNECTED


def test_facts_are_said_back_in_the_second_person() -> None:
    assert second_person("My sister is called Annabel.") == "Your sister is called Annabel."
    assert second_person("I am allergic to peanuts.") == "You are allergic to peanuts."
    assert second_person("The key is mine.") == "The key is yours."


def test_the_best_sentences_of_an_excerpt() -> None:
    assert best_sentences(NOTES, "who services it? the company") == \
        "The service company is called Heatwise."
    found_by_meaning = best_sentences(NOTES, "guarantee period of the heating unit")
    assert found_by_meaning.startswith("The Vaillant boiler")  # no shared word: the start
    assert len(best_sentences("word " * 200, "word", limit=50)) <= 51


@pytest.fixture
def tools_agent():
    class Holder:
        memory: MemoryBook | None = None
        retriever = None
        on_tool_action = None
    return Holder()


async def test_remember_and_forget_tools_only_with_a_memory_book(tools_agent) -> None:
    assert "remember" not in [t.name for t in make_builtin_tools(tools_agent)]
    tools_agent.memory = book = Book()
    tools = {t.name: t for t in make_builtin_tools(tools_agent)}
    assert (await tools["remember"].ainvoke({"fact": "I like tea"})) == "Remembered: I like tea."
    assert "couldn't remember" in await tools["remember"].ainvoke({"fact": " "})
    assert book.facts == ["I like tea."]
    assert "Nothing remembered" in await tools["forget"].ainvoke({"about": "coffee"})
    assert (await tools["forget"].ainvoke({"about": "tea"})) == "Forgotten: I like tea."
