"""The open-data tests reuse the service-request world (an app, two cities, users, Open311 keys)."""

from tests.requests.conftest import _client, world  # noqa: F401  (fixtures)
