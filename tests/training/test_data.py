"""Reading the training JSONL formats: HH splitting, TRL formats, one-line errors naming file:line."""
import pytest

from training.data import conversation_text, prompt_text, read_demonstrations, read_pairs, read_prompts, split_hh_dialogue
from training.errors import TrainingUserError

from .conftest import write_jsonl


def test_split_hh_dialogue_cuts_at_the_last_assistant_turn():
    dialogue = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: How are you?\n\nAssistant: Fine, thanks."
    prompt, answer = split_hh_dialogue(dialogue)
    assert prompt == "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: How are you?\n\nAssistant:"
    assert answer == "Fine, thanks."


def test_hh_rows_without_prompt_become_prompt_chosen_rejected(tmp_path):
    path = write_jsonl(tmp_path / "hh.jsonl", [{
        "chosen": "\n\nHuman: Q\n\nAssistant: good answer",
        "rejected": "\n\nHuman: Q\n\nAssistant: bad answer",
    }])
    [pair] = read_pairs(path)
    assert (pair.prompt, pair.chosen, pair.rejected) == ("\n\nHuman: Q\n\nAssistant:", "good answer", "bad answer")


def test_pairs_keep_conversations_and_margin(tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": [{"role": "user", "content": "Hi"}], "chosen": "a", "rejected": "b", "margin": 2},
    ])
    [pair] = read_pairs(path)
    assert pair.prompt == [{"role": "user", "content": "Hi"}] and pair.margin == 2.0


@pytest.mark.parametrize("line, problem", [
    ("{not json", "not valid JSON"),
    ('{"prompt": "x", "chosen": "a"}', "missing field 'rejected'"),
    ('{"prompt": "x", "chosen": 3, "rejected": "b"}', "field 'chosen' must be text or a list of messages"),
    ('{"prompt": [{"role": "user"}], "chosen": "a", "rejected": "b"}', "message 0 needs string 'role' and 'content'"),
    ('{"prompt": "x", "chosen": "a", "rejected": "b", "margin": "big"}', "field 'margin' must be a number"),
    ("[1, 2]", "expected a JSON object"),
])
def test_malformed_pair_lines_name_file_and_line(tmp_path, line, problem):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "ok", "chosen": "a", "rejected": "b"}\n\n' + line + "\n")
    with pytest.raises(TrainingUserError) as raised:
        read_pairs(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:3: ") and problem in message
    assert "\n" not in message


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(TrainingUserError, match="no such file"):
        read_prompts(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(TrainingUserError, match="no rows"):
        read_prompts(tmp_path / "empty.jsonl")


def test_demonstrations_accept_both_trl_formats(tmp_path):
    path = write_jsonl(tmp_path / "demos.jsonl", [
        {"prompt": "Say hi", "completion": "hi"},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
    ])
    first, second = read_demonstrations(path)
    assert first.completion == "hi" and second.messages[1]["content"] == "Hello"


def test_conversations_render_with_a_chat_template_or_in_hh_style():
    messages = [{"role": "user", "content": "Hi"}]
    assert prompt_text(messages) == "\n\nHuman: Hi\n\nAssistant:"
    assert conversation_text(messages, "Hello") == "\n\nHuman: Hi\n\nAssistant: Hello"
