"""Hypothesis settings that give CI the same examples on every run."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def ci_settings(max_examples: int, *suppressed: HealthCheck) -> settings:
    """Return derandomized settings with no deadline and no example database.

    `suppressed` lists the health checks a test knowingly trips, such as
    `HealthCheck.too_slow` for tests that drive the page through AppTest.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(suppressed),
    )
