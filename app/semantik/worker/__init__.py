"""The ingestion side: Celery tasks that scan, parse, chunk, embed and upsert documents."""
