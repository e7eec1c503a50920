"""Settings, engine and clients are built once per process; tests that change the environment reset them."""

from __future__ import annotations


def reset_caches() -> None:
    """Forget settings, engine and clients built from an earlier environment."""
    from kombu import pools

    from semantik.shared import config, db, queue

    config.get_settings.cache_clear()
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    db.get_engine.cache_clear()
    db._session_factory.cache_clear()
    queue.client.cache_clear()
    # kombu keeps broker connections process-wide, keyed by URL without the TLS options.
    pools.reset()
