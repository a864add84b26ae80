"""Field limits, declared once: the forms, the API schemas and the services read them.

A limit lives here and nowhere else, so a form and the API (its OpenAPI document and its
checks) cannot drift apart: the API once took 400,000 characters where the form took 4,000.
"""

DESCRIPTION = 4000  # what the applicant needs (request description)
WITHDRAW_REASON = 500  # why an applicant withdraws
DECISION_REASON = 2000  # a caseworker's reason to reject or return to review
DOCUMENT_REASON = 1000  # why one document is asked for
NOTE = 2000  # a caseworker's note with a document request
