"""The hesitation benchmark's requests: spoken requests with a pause inside, and complete ones.

A hesitant request is synthesised as ONE sentence (so the voice keeps the intonation of a
sentence that goes on) with a pause of 0.5 - 1.2 s at the marked word boundary (Piper: cut
at the phoneme alignment of the word gap; espeak-ng: an SSML break): "I would like to
book a table | for four people tonight" is heard as "I would like to book a table … for
four people tonight". Complete requests are whole sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from speech_clips import SR, Voice

HESITANT = [
    "I would like to book a table | for four people tonight.",
    "Can you remind me to | buy milk after work?",
    "What is the weather going to be like | in Paris tomorrow?",
    "Please set an alarm for | my morning run.",
    "How many teaspoons are there in | a tablespoon?",
    "Could you tell me the | opening hours of the library?",
    "I need to send an email to | my manager about the meeting.",
    "Can you play some music by | the Beatles?",
    "What is the best way to | cook brown rice?",
    "Add eggs and flour and | sugar to my shopping list.",
    "Tell me how long it takes to | drive from Boston to New York.",
    "I want to know whether | the museum is open on Mondays.",
    "Turn off the lights in the | living room please.",
    "Who was the president of the United States | during the Second World War?",
    "Can you explain the difference between | weather and climate?",
    "Find me a recipe that uses | chicken and lemons.",
    "Remind me tomorrow morning to | water the plants.",
    "What is the distance between the earth and | the sun?",
    "Could you translate thank you very much into | Italian?",
    "I am looking for a good book about | the history of Rome.",
    "Set a timer for | twenty minutes.",
    "Call my sister and tell her that | I will be late.",
    "How do I convert fifty degrees Fahrenheit to | Celsius?",
    "Please read me the latest news about | the football results.",
]

COMPLETE = [
    "What time is it?",
    "Turn on the kitchen lights.",
    "How far away is the moon?",
    "Tell me a joke.",
    "What is the capital of Australia?",
    "Set a timer for ten minutes.",
    "Who wrote Pride and Prejudice?",
    "Is it going to rain this weekend?",
    "Play some relaxing music, please.",
    "How do I say good morning in Spanish?",
    "What should I cook for dinner tonight?",
    "Remind me to call my mother at six.",
    "Which planet is the largest in our solar system?",
    "How long does it take to boil an egg?",
    "Good morning!",
    "What year did the first person walk on the moon?",
    "Can you recommend a good film for tonight?",
    "How many ounces are in a pound?",
    "Why is the sky blue?",
    "Add bananas to my shopping list.",
    "Thank you, that was helpful.",
    "What is the square root of one hundred and forty four?",
    "Stop.",
    "Tell me something interesting about octopuses.",
]

PAUSES_S = [0.5, 0.7, 0.9, 1.2]


@dataclass
class Request:
    """One spoken request: ``pcm`` (16 kHz PCM16, ends with the voice), ``pause`` where the
    speaker hesitates (sample range) or ``None`` for a complete request."""

    text: str
    voice: str
    pcm: np.ndarray
    pause: tuple[int, int] | None = None

    @property
    def first_part(self) -> str:
        return self.text.split("|")[0].strip()


def hesitant(voice: Voice, marked: str, pause_s: float) -> Request:
    """``marked`` ("first part | rest") said by ``voice`` with ``pause_s`` of silence at
    the mark."""
    first, rest = (p.strip() for p in marked.split("|"))
    pcm, pause_at = voice.say_with_pause(first, rest, pause_s)
    return Request(marked, voice.name, pcm, (pause_at, pause_at + int(pause_s * SR)))


def build(voices: list[Voice], n_hesitant: int = 24, n_complete: int = 24
          ) -> tuple[list[Request], list[Request]]:
    """The benchmark's requests, voices and pauses taken in turn (deterministic)."""
    hes: list[Request] = []
    for i, marked in enumerate(HESITANT * 2):
        if len(hes) >= n_hesitant:
            break
        hes.append(hesitant(voices[i % len(voices)], marked, PAUSES_S[i % len(PAUSES_S)]))
    complete = [Request(text, voices[(i + 1) % len(voices)].name,
                        voices[(i + 1) % len(voices)].say(text))
                for i, text in enumerate((COMPLETE * 2)[:n_complete])]
    return hes, complete


__all__ = ["COMPLETE", "HESITANT", "PAUSES_S", "Request", "build", "hesitant"]
