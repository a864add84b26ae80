"""The applicant pages."""
