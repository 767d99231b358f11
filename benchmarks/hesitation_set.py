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

#: A second set, written (stop 28) after the detector's rules had been tuned on the first and
#: never used to choose one: ``turn_signals.py`` reports the two apart.
HESITANT_HELD_OUT = [
    "Can you wake me up at | seven tomorrow?",
    "What is the population of | Canada?",
    "Send a message to | my brother saying hello.",
    "How long should I bake | a potato in the oven?",
    "I would like to order a pizza with | mushrooms and olives.",
    "Tell me a story about | a dragon and a knight.",
    "What time does the | train to London leave?",
    "Put milk and bread on | my shopping list.",
    "Who painted the | Mona Lisa?",
    "Please turn up the volume | a little bit.",
    "Can you find a restaurant near | the station?",
    "How much does it cost to | fly to Madrid?",
    "Remind me to call the dentist on | Friday morning.",
    "What did the stock market do | today?",
    "Show me the photos from | last summer.",
    "Is there a pharmacy open | near here tonight?",
    "Write down that I need to | renew my passport.",
    "What is the difference between a | crocodile and an alligator?",
    "Book a meeting with | Anna on Tuesday.",
    "How do you spell | necessary?",
    "Start a timer for | fifteen minutes.",
    "Which is bigger, the | moon or Mercury?",
    "Tell me the score of | the last Arsenal game.",
    "Could you give me directions to | the nearest hospital?",
]

COMPLETE_HELD_OUT = [
    "What is the weather like today?",
    "Turn off the bedroom lights.",
    "How tall is Mount Everest?",
    "Tell me a fun fact.",
    "What is the capital of Canada?",
    "Set an alarm for seven thirty.",
    "Who invented the telephone?",
    "Will it snow tomorrow?",
    "Play my workout playlist.",
    "How do you say thank you in French?",
    "What should I read next?",
    "Remind me to take my medicine at nine.",
    "Which ocean is the deepest?",
    "How many minutes are in a day?",
    "Good night!",
    "When did the Berlin Wall fall?",
    "Can you suggest a quick lunch?",
    "How many grams are in a kilogram?",
    "Why do cats purr?",
    "Add coffee to my shopping list.",
    "That sounds great, thanks.",
    "What is twelve times twelve?",
    "Cancel.",
    "Tell me something about whales.",
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


__all__ = ["COMPLETE", "COMPLETE_HELD_OUT", "HESITANT", "HESITANT_HELD_OUT", "PAUSES_S",
           "Request", "build", "hesitant"]
