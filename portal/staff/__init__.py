"""The staff pages."""
