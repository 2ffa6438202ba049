"""Menu entries and other registrations of the data-sources part of the core."""
