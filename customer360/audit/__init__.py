"""Audit: the change history of records, the access log of reads and exports, and retention.

``tracking`` (the decorator models use), ``history`` (reading, context, scrubbing),
``access`` (the one function that records an access), ``retention`` (what is kept how long).
"""
