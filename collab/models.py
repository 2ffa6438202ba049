"""Models of the collab app."""
