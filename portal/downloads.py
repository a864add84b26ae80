"""Sending a stored document to someone allowed to have it, as an attachment."""

from __future__ import annotations

from flask import send_file

from portal import uploads
from portal.services import NotVisible, storage


def send_document(document):
    try:
        path = storage.path_of(document.stored_name)
        if not path.exists():
            raise FileNotFoundError(path)
    except FileNotFoundError:
        raise NotVisible(document.id) from None
    response = send_file(
        path,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=uploads.download_name(document.original_name, document.content_type),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
