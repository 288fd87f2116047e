"""Deterministic seeding of every random number generator training touches."""
import os
import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed `random`, `numpy` and `torch` (CPU and CUDA) with one integer."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import torch  # imported here so the CLI can validate arguments before the slow import

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
