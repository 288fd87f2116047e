"""`make bench`: every benchmark with the command its bench/README.md section records, one after another.

Each benchmark runs in its own process (its own peak memory, nothing shared), from the repository
root, and prints its own report; this script adds a header per benchmark and a closing table of
exit codes and wall times. `--only NAME` (repeatable) picks benchmarks; `--list` shows them.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (arguments after `python`, what it compares). The arguments are the README's reproduce
# commands, so `make bench` gives figures comparable with the recorded ones.
BENCHMARKS: dict[str, tuple[list[str], str]] = {
    "agreement": (["bench/bench_agreement.py"],
                  "agreement report for 1M judgements: ours vs the krippendorff package"),
    "annotate": (["bench/bench_annotate.py", "--paced", "32:1000"],
                 "annotate loop (next + judgement) at N = 1, 8, 32, 64 vs pgbench -N on the same database"),
    "training": (["bench/bench_training.py", "--pairs", "128", "--rounds", "2", "--steps", "8", "--threads", "1"],
                 "reward, DPO and PPO throughput vs the plain TRL trainers"),
    "real-model": (["bench/bench_real_model.py", "--prompts", "4", "--new-tokens", "12", "--steps", "2", "--pairs", "4",
                    "--max-length", "96", "--threads", "2"],
                   "SmolLM2-135M-Instruct: PPO (LoRA, full) vs TRL RLOO, DPO vs TRL DPO, generation vs model.generate"),
    # about an hour on 2 idle cores (6 MiniLM folds); finished folds are kept and skipped on a rerun
    "reward-cv": (["bench/reward_cv.py", "--config", "minilm-defaults", "--config", "minilm-top2", "--fold-limit", "3",
                   "--jobs", "2", "--threads", "1"],
                  "reward model defaults by cross-validation on real HH pairs vs the length heuristic"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    arguments = parser.parse_args(argv)
    if arguments.list:
        for name, (command, what) in BENCHMARKS.items():
            print(f"{name:10} {what}\n{'':10} python {' '.join(command)}")
        return 0
    chosen = arguments.only or list(BENCHMARKS)
    outcomes = []
    for name in chosen:
        command, what = BENCHMARKS[name]
        print(f"\n=== {name}: {what}\n=== {sys.executable} {' '.join(command)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, *command], cwd=ROOT)
        outcomes.append((name, code, time.monotonic() - started))
    print("\nbenchmark   exit   wall")
    for name, code, seconds in outcomes:
        print(f"{name:10} {code:5}  {seconds:6.0f} s")
    return max((code for _, code, _ in outcomes), default=0)


if __name__ == "__main__":
    sys.exit(main())
