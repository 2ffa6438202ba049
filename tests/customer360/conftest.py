"""Fixtures of the core tests."""

from tests.customer360.stand_in_kinds import stand_in_kinds  # noqa: F401
