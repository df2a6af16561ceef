"""HTTP API (FastAPI): ingest at the SDKs' paths, and the versioned API under /api/."""
