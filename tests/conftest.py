"""Hypothesis budgets for the whole suite, in one place.

Two profiles: ``ci`` (CI=true, as .ci/run sets: the full budget, failures print a
reproduction blob) and ``fast`` (the local default: 20 examples a test, for iterating).
``HYPOTHESIS_PROFILE=ci`` locally reproduces a CI run. A test whose examples cost far
more or far less than a typical one asks for a multiple of the profile's budget with
:func:`helpers.budget.scaled`, and says why.

Both profiles drop the per-example deadline and the "too slow" / "data too large"
health checks: drawing a whole market and book takes a varying, sometimes long time on
a busy 2-core machine, and a wall-clock limit would make the suite flaky, not stricter.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=60, print_blob=True, **_COMMON)
settings.register_profile("fast", max_examples=20, **_COMMON)

_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _ci else "fast"))
