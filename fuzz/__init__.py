"""Fuzzing support for calico-audit: input generators shared by tests/test_fuzz.py and the atheris harness."""
