"""Example budgets relative to the loaded Hypothesis profile (tests/conftest.py)."""

from hypothesis import settings


def scaled(factor: float) -> settings:
    """Settings with ``factor`` times the profile's ``max_examples`` (at least 1), for a test
    whose examples are far cheaper or far dearer than a typical one; the profile's other
    settings stay."""
    return settings(max_examples=max(1, round(factor * settings.default.max_examples)))
