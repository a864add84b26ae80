from tests.api.support import api, world  # noqa: F401  (fixtures)
