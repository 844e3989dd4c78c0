"""Shared test helpers: hypothesis strategies and oracle wrappers for the margin engine
(``margin_strategies``), hand-built proof encodings (``proof_encodings``) and small
attestation fixtures (``attest_fixtures``). Imported as ``helpers.<module>``: pytest's
rootdir-relative import puts ``tests/`` on ``sys.path``."""
