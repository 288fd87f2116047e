"""The reward model's loss and calibration metric against hand-computed values."""
import math

import pytest
import torch

from training.reward import bradley_terry_loss, expected_calibration_error


def test_bradley_terry_loss_with_and_without_margin():
    chosen, rejected = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])
    # -mean(log sigmoid(1), log sigmoid(0))
    expected = -(math.log(1 / (1 + math.exp(-1))) + math.log(0.5)) / 2
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(expected, rel=1e-5)
    # a margin of 1 turns the first difference into 0: -log(0.5)
    assert bradley_terry_loss(chosen, rejected, torch.tensor([1.0, 0.0])).item() == pytest.approx(math.log(2), rel=1e-5)


def test_expected_calibration_error():
    # confidences 0.9, 0.9, 0.6, 0.6, all correct: 0.5 * |1 - 0.9| + 0.5 * |1 - 0.6| = 0.25
    assert expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 1]) == pytest.approx(0.25)
    # p = 0.2 for a pair that was chosen: confident (0.8) and wrong
    assert expected_calibration_error([0.2], [1]) == pytest.approx(0.8)
