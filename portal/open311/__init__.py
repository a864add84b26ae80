"""Open311 GeoReport v2 (`/open311/v2`): the same requests, for civic tools, JSON and XML."""
