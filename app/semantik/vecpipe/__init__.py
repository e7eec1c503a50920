"""vecpipe: the embedding service and the only owner of the vector store (DESIGN.md)."""
