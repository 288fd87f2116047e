"""Prefloop's training engine: reward models, PPO, DPO, RLOO, SFT and generation.

A pure library (torch, transformers, TRL) with a command line: `python -m training <command>`.
It imports nothing from Django, Celery or the annotation app; workers run it as a process.
"""
