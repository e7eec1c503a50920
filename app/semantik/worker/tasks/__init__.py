"""Celery tasks, one module per domain; each is thin and calls a service function."""
