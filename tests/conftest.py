"""Shared test settings: hypothesis profiles and the optional torch oracle.

Profiles: `ci` (derandomized, fewer examples: the whole suite stays within minutes on 2 cores)
and `dev` (more examples, for local runs). CI=true selects `ci`; HYPOTHESIS_PROFILE overrides.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
