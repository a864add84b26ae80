"""The JSON API (`/api/v1`), its OpenAPI document and its docs page."""
