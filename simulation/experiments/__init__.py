"""Measured runs in the synthetic world, for the research reports under docs/loop-report/: the
headless loop (`manage.py loop`) with its gold-reward measurement and plots, and the active-selection
experiment (`python -m simulation.experiments.active_selection`). `make run` needs none of it."""
