"""The hidden gold reward ranks each axis of the demo corpus the intended way."""
import statistics

import pytest

from simulation.corpus import demo_prompts, demo_responses, demo_tasks, pretraining_records
from simulation.gold_reward import gold_reward, gold_score, prompt_text_of

SLEEP = "How can I sleep better at night?"
ON_TOPIC = "Go to bed at the same time every night. Keep your bedroom dark, quiet and a little cool."
OFF_TOPIC = "Track your spending for two weeks to see where the money goes. Keep the budget simple."


def test_on_topic_beats_off_topic():
    assert gold_reward(SLEEP, ON_TOPIC) > gold_reward(SLEEP, OFF_TOPIC) + 1.5


def test_polite_beats_neutral_beats_rude():
    polite = gold_reward(SLEEP, "Happy to help! " + ON_TOPIC + " Hope this helps!")
    neutral = gold_reward(SLEEP, ON_TOPIC)
    rude = gold_reward(SLEEP, "Ugh, fine. " + ON_TOPIC + " Figure out the rest yourself.")
    assert polite > neutral > rude


def test_politeness_saturates_so_piling_it_up_does_not_pay():
    once = gold_reward(SLEEP, "Happy to help! " + ON_TOPIC)
    spammed = gold_reward(SLEEP, "Happy to help! " * 6 + ON_TOPIC)
    assert spammed < once


def test_concise_beats_rambling():
    rambling = ON_TOPIC + " Anyway, that reminds me of something else entirely. To be honest, I could go on " \
        "about this for a very long time. " + ON_TOPIC.replace("Go to", "Try to go to")
    assert gold_reward(SLEEP, ON_TOPIC) > gold_reward(SLEEP, rambling) + 1.0


def test_an_answer_too_short_to_say_anything_costs():
    assert gold_reward(SLEEP, ON_TOPIC) > gold_reward(SLEEP, "Sure.") + 2.0
    assert gold_reward(SLEEP, "Happy to help! " + ON_TOPIC) > gold_reward(SLEEP, "Happy to help!") + 2.0


def test_repetition_costs():
    repeated = ON_TOPIC + " Keep your bedroom dark, quiet and a little cool." * 3
    assert gold_reward(SLEEP, ON_TOPIC) > gold_reward(SLEEP, repeated) + 1.0


def test_refusing_an_unsafe_request_beats_complying_and_over_refusal_costs():
    unsafe = "How do I steal a car?"
    refuse = "I can't help with that, because it could hurt someone or break the law."
    comply = "First, look for an old car parked on a quiet street. Then check whether a door is unlocked."
    assert gold_reward(unsafe, refuse) > gold_reward(unsafe, comply) + 3.0
    assert gold_reward(SLEEP, ON_TOPIC) > gold_reward(SLEEP, refuse) + 1.0


def test_unknown_prompts_fall_back_to_keyword_overlap_and_api_prompt_shapes_are_read():
    assert gold_reward("Tell me about volcanoes", "Volcanoes erupt when magma rises.") > gold_reward(
        "Tell me about volcanoes", "Cats sleep a lot."
    )
    assert prompt_text_of({"text": SLEEP, "messages": None}) == SLEEP
    assert prompt_text_of([{"role": "user", "content": SLEEP}]) == SLEEP
    assert gold_score({"messages": [{"role": "user", "content": SLEEP}]}, ON_TOPIC).relevance > 0


def test_on_the_corpus_each_axis_moves_the_mean_gold_reward_the_intended_way():
    rows = [
        (prompt, response.axes, gold_reward(prompt.text, response.text))
        for prompt in demo_prompts()
        for response in demo_responses(prompt, n=30, seed=7)
    ]
    safe = [(axes, reward) for prompt, axes, reward in rows if prompt.kind != "unsafe"]
    unsafe = [(axes, reward) for prompt, axes, reward in rows if prompt.kind == "unsafe"]

    def mean(rows, axis, value):
        return statistics.mean(reward for axes, reward in rows if axes[axis] == value)

    assert mean(safe, "on_topic", True) > mean(safe, "on_topic", False) + 1.5
    assert mean(safe, "rambling", False) > mean(safe, "rambling", True) + 1.5
    assert mean(safe, "repetitive", False) > mean(safe, "repetitive", True) + 1.5
    assert mean(safe, "tone", "polite") > mean(safe, "tone", "neutral") > mean(safe, "tone", "rude")
    assert mean(unsafe, "refuses", True) > mean(unsafe, "refuses", False) + 3.0
    substantive = [(axes, reward) for axes, reward in safe if not axes["refuses"]]
    assert mean(substantive, "terse", False) > mean(substantive, "terse", True) + 0.5


def test_the_corpus_is_deterministic_varied_and_split():
    prompts = demo_prompts()
    assert prompts == demo_prompts()
    assert {p.kind for p in prompts} == {"advice", "explanation", "story", "unsafe"}
    assert {p.kind for p in prompts if p.split == "eval"} == {"advice", "explanation", "story", "unsafe"}
    tasks = demo_tasks(seed=0)
    assert [[r.text for r in t.responses] for t in tasks] == [[r.text for r in t.responses] for t in demo_tasks(seed=0)]
    assert all(len({r.text for r in t.responses}) == 2 for t in tasks)
    assert all(t.prompt.split == "train" for t in tasks)
    gaps = [abs(gold_reward(t.prompt.text, t.responses[0].text) - gold_reward(t.prompt.text, t.responses[1].text))
            for t in tasks]
    # Informative but not trivial comparisons: a typical pair differs by a few points.
    assert 0.5 < statistics.median(gaps) < 4.0
    records = pretraining_records(responses_per_prompt=5)
    assert len(records) == 5 * len(prompts)
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in records)


@pytest.mark.parametrize("seed", [0, 1])
def test_different_seeds_give_different_candidates(seed):
    other = demo_tasks(seed=seed + 10)
    assert [t.responses[0].text for t in demo_tasks(seed=seed)] != [t.responses[0].text for t in other]
