"""Hypothesis settings for the suite: CI machines here are small and noisy, so wall-clock
limits on single examples (deadlines, the slow-generation health check) would only add flakes;
example counts, not timings, bound the run."""

from hypothesis import HealthCheck, settings

# The S3 fixtures (`seaweed`, `s3_bucket`, `fault_proxy`) for every test directory.
pytest_plugins = ["storage.s3_fixtures"]

settings.register_profile("nodesnap", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("nodesnap")
