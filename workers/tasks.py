"""Celery tasks of the RLHF loop (thin: load, guard, call a service, record)."""
