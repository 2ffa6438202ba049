"""Models of dashboards and listening."""
