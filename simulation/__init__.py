"""A synthetic world for demos and measurement, outside the platform: a demo corpus, a hidden gold
reward, simulated annotators that judge through the REST API, the demo set-up (`manage.py demo`)
and the processes a headless run starts. The measured runs behind the research reports live in
`simulation.experiments`.

The idea is Gao, Schulman & Hilton (2022), "Scaling Laws for Reward Model Overoptimization", at
small scale: the gold reward labels comparisons (through simulated people), the platform learns a
proxy from those labels only, and the loop report compares the two. Nothing in `annotation/`,
`training/` or `workers/` may import this package (tests/test_dependencies.py checks it): the
platform must never see the gold reward.
"""
