"""Sending a stored document to someone allowed to have it, as an attachment.

The file is hashed on every download and sent only if it is still the one received
(its SHA-256 recorded at upload): a swapped file is refused and reported, never served.
"""

from __future__ import annotations

import logging
import os

from flask import send_file

from portal import uploads
from portal.security import log_event
from portal.services import NotVisible, storage


class DocumentAltered(Exception):
    """The stored file is not the one received: refused (see register_errorhandlers)."""

    def __init__(self, document):
        super().__init__(f"document {document.id}: stored file does not match its SHA-256")
        self.document = document


def send_document(document):
    try:
        # One open file, hashed then sent: what is sent is what was checked, even if the
        # name is pointed at another file in between.
        file = open(storage.path_of(document.stored_name), "rb")  # send_file closes it
    except FileNotFoundError:
        _alert(document, "document.missing")
        raise NotVisible(document.id) from None
    try:
        found = storage.sha256_of(file)
        if found != document.sha256:
            _alert(document, "document.altered", found_sha256=found)
            raise DocumentAltered(document)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    response = send_file(
        file,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=uploads.download_name(document.original_name, document.content_type),
        max_age=0,
        conditional=False,
        etag=False,
    )
    response.content_length = os.fstat(file.fileno()).st_size
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _alert(document, event: str, **fields) -> None:
    log_event(
        event,
        outcome="refused",
        level=logging.ERROR,
        document_id=document.id,
        request_id=document.request_id,
        recorded_sha256=document.sha256,
        **fields,
    )
