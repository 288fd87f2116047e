"""A synthetic world for demos and measurement: a demo corpus, a hidden gold reward, and
simulated annotators that judge through the REST API.

The idea is Gao, Schulman & Hilton (2022), "Scaling Laws for Reward Model Overoptimization", at
small scale: the gold reward labels comparisons (through simulated people), the platform learns a
proxy from those labels only, and the loop report compares the two. Nothing in `training/` or
`workers/` may import `gold_reward`: the platform must never see it.
"""
