"""Data sources: CSV/Excel uploads, REST push and webhooks, field mapping, import runs,
identity resolution and merges."""
