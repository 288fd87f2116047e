"""Degenerate copies of an answer: what a policy pushed too hard against a reward model tends to
write (runs of punctuation, one word over and over, word salad, nothing at all).

A reward model learned only from human preference pairs has never seen such text, and may score
it like a terse answer. The real-model world's gold reward also learns that a human answer beats
each of these copies of it, so that over-optimization shows as gold falling (Gao et al. 2022).
"""
from __future__ import annotations

import random
import string

PUNCTUATION_RUNS = ("!", "?", ".", "!?", "...", "*")


def punctuation_run(answer: str, rng: random.Random) -> str:
    return rng.choice(PUNCTUATION_RUNS) * rng.randint(8, 40)


def repeated_word(answer: str, rng: random.Random) -> str:
    words = answer.split() or ["the"]
    return " ".join([rng.choice(words)] * rng.randint(6, 30))


def shuffled_words(answer: str, rng: random.Random) -> str:
    words = answer.split()
    if len(set(words)) < 3:
        return random_letters(answer, rng)
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def random_letters(answer: str, rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + "  ") for _ in range(rng.randint(12, 120))).strip() or "zq"


def truncated_with_run(answer: str, rng: random.Random) -> str:
    """The start of the answer, then a run of one token: a collapse mid-reply."""
    words = answer.split()
    head = " ".join(words[:rng.randint(0, min(len(words), 8))])
    return f"{head} {punctuation_run(answer, rng)}".strip()


def empty(answer: str, rng: random.Random) -> str:
    return ""


CORRUPTIONS = {function.__name__: function for function in
               (punctuation_run, repeated_word, shuffled_words, random_letters, truncated_with_run, empty)}


def degenerate_copy(answer: str, kind: str, rng: random.Random) -> str:
    """A degenerate copy of `answer` of the given kind (a key of CORRUPTIONS), never the answer itself."""
    copy = CORRUPTIONS[kind](answer, rng)
    return copy if copy.strip() != answer.strip() else punctuation_run(answer, rng)
