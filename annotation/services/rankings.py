"""Checking a submitted ranking (ordered tiers of response ids) against a task's responses."""
from annotation.errors import DomainError


def ranking_response_ids(*, ranking, field: str = "ranking") -> list[int]:
    """The response ids of a well-formed ranking (non-empty tiers of integer ids, each id once), in
    order; a 400 naming `field` otherwise. Which responses it must name is `ranking_validate`'s check."""
    if not isinstance(ranking, list) or not ranking:
        raise DomainError(f"{field} must be a non-empty list of tiers of response ids.", field=field)
    seen: list[int] = []
    for index, tier in enumerate(ranking):
        if not isinstance(tier, list) or not tier:
            raise DomainError(f"{field}[{index}] must be a non-empty list of response ids.", field=field)
        for response_id in tier:
            if not isinstance(response_id, int) or isinstance(response_id, bool):
                raise DomainError(f"{field}[{index}] holds {response_id!r}; response ids are integers.", field=field)
            seen.append(response_id)
    repeated = sorted({r for r in seen if seen.count(r) > 1})
    if repeated:
        raise DomainError(f"{field} repeats response {repeated[0]}.", field=field)
    return seen


def ranking_validate(*, ranking, response_ids: list[int], field: str = "ranking") -> list[list[int]]:
    """Returns the ranking if it orders every response exactly once; a 400 naming `field` otherwise.

    A ranking is a list of tiers, best first; a tier holds the ids judged equal
    (pairwise A>B is [[a], [b]], a tie is [[a, b]]).
    """
    seen = set(ranking_response_ids(ranking=ranking, field=field))
    expected = set(response_ids)
    foreign = sorted(seen - expected)
    if foreign:
        raise DomainError(f"{field} names response {foreign[0]}, which is not in this task.", field=field)
    missing = sorted(expected - seen)
    if missing:
        raise DomainError(f"{field} leaves out response {missing[0]}; rank every response.", field=field)
    return [list(tier) for tier in ranking]


def is_tie(ranking: list[list[int]]) -> bool:
    """True when the ranking puts every response in one tier."""
    return len(ranking) == 1
