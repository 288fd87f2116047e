"""The annotation domain: projects, prompts, responses, comparison tasks, assignments, judgements,
and the records of the training loop (iterations, jobs, policy and reward-model versions)."""
