"""The boards stories also speak to the API, with a token (tests/api/support.py)."""

from tests.api.support import api  # noqa: F401  (fixture)
