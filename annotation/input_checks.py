"""Checks on text from clients that the database or a reader would choke on; no database access.

PostgreSQL stores neither NUL (in text or jsonb) nor a lone UTF-16 surrogate (not encodable as
UTF-8), and jsonb takes no NaN or infinity: such input would end in a 500 at write time. Names
(projects, users, criteria) also refuse control and bidi-override characters, which can make a
name display as another one.
"""
import math
import unicodedata

# Explicit embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the
# direction marks (LRM, RLM, ALM): they reorder how the text around a name is displayed.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)] + ["\u200e", "\u200f", "\u061c"]
)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return f"contains a lone surrogate (\\u{ord(char):04x})"
    return None


def unstorable_json(value, path: str) -> str | None:
    """The first part of a JSON value that cannot be stored, as "<path> <problem>", or None.

    Walks dicts (keys and values) and lists without recursion, so any depth the JSON decoder
    accepted is fine. `path` names the value itself (e.g. "metadata"); parts get ".key"/"[i]".
    """
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return f"{where or 'the value'} {problem}."
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{where or 'the value'} must be a finite number."
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                key_text = str(key)
                problem = _text_problem(key_text)
                if problem:
                    return f"{where or 'the value'}: a key {problem}."
                stack.append((child, f"{where}.{key_text}" if where else key_text))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{where}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None


def name_problem(name: str, what: str) -> str | None:
    """Why `name` is no good as the name of a thing people pick from a list, or None."""
    problem = _text_problem(name)
    if problem:
        return f"{what} {problem}."
    for char in name:
        if char in BIDI_CONTROLS:
            return f"{what} contains a text-direction control character (U+{ord(char):04X})."
        if unicodedata.category(char) == "Cc":
            return f"{what} contains a control character (U+{ord(char):04X})."
    return None
