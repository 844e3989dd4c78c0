"""The pieces of tests/fuzz_api.py: mutations, checks and targets by area."""
