"""Consensus pairs for training: judgements of each task aggregated into chosen/rejected pairs."""
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsensusPair:
    """One training pair. `margin` grows with the judged strength and with agreement."""

    task_id: int
    prompt_id: int
    chosen_response_id: int
    rejected_response_id: int
    margin: float
    n_judgements: int
    agreement: float


def consensus_pairs(*, project, method: str | None = None) -> list[ConsensusPair]:
    """Aggregates the current judgements of every training task of `project` into pairs.

    `method` overrides the project's `consensus_method` ("majority" or "reliability").
    Ties and both-bad verdicts are left out; a K-way ranking expands into its C(K, 2) pairs.
    """
    raise NotImplementedError("filled in by the quality-control work (issue 4)")
