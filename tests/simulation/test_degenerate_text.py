"""Degenerate copies of an answer (what an over-optimized policy writes) and the gold model's pairs
of a human answer against them."""
import random

import pytest

from simulation import hh_world
from simulation.degenerate_text import CORRUPTIONS, degenerate_copy

ANSWER = "You could ask your neighbour first, and if they say no, call your provider for a better plan."


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_every_kind_of_copy_differs_from_the_answer(kind):
    rng = random.Random(0)
    for answer in (ANSWER, "No.", ""):
        copy = degenerate_copy(answer, kind, rng)
        assert copy.strip() != answer.strip() or not answer, (kind, answer, copy)
    assert degenerate_copy(ANSWER, kind, random.Random(3)) == degenerate_copy(ANSWER, kind, random.Random(3))


def test_a_degenerate_pair_keeps_the_dialogue_and_replaces_only_the_last_answer():
    dialogue = "\n\nHuman: My neighbour's wifi?\n\nAssistant: " + ANSWER
    pairs = hh_world.degenerate_pairs([{"chosen": dialogue, "rejected": "ignored"}] * len(CORRUPTIONS))
    assert len(pairs) == len(CORRUPTIONS)
    prefix = "\n\nHuman: My neighbour's wifi?\n\nAssistant:"
    assert all(pair["chosen"] == dialogue and pair["rejected"].startswith(prefix) for pair in pairs)
    # one of each kind, in turn: the empty one ends at the assistant marker
    assert prefix in {pair["rejected"] for pair in pairs}
    assert len({pair["rejected"] for pair in pairs}) == len(CORRUPTIONS)
