"""The supervisor pages."""
