"""Models of data sources (imported by customer360.models so Django registers them)."""
