"""Writes: every change to the domain goes through a function here (`<noun>_<verb>`, keyword-only,
transactional), which raises `annotation.errors.DomainError` for the API to turn into a 4xx."""
