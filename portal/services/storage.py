"""Uploaded documents on disk, outside static/, under random names."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from flask import current_app

# What save() names files: str.isalnum() would also pass non-ASCII digits and letters.
_STORED_NAME = re.compile(r"[0-9a-f]{32}")


def folder() -> Path:
    path = Path(current_app.config["UPLOAD_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(stream) -> str:
    """Write the stream under a new random name; returns that name."""
    name = secrets.token_hex(16)
    stream.seek(0)
    with open(folder() / name, "xb") as target:
        while chunk := stream.read(64 * 1024):
            target.write(chunk)
    return name


def path_of(stored_name: str) -> Path:
    return path_in(folder(), stored_name)


def path_in(upload_folder: Path, stored_name: str) -> Path:
    """Where `stored_name` lives in `upload_folder` (no app needed: `flask audit verify`)."""
    # Stored names are ours (hex); refuse anything else rather than trusting the database.
    if not isinstance(stored_name, str) or not _STORED_NAME.fullmatch(stored_name):
        raise FileNotFoundError(stored_name)
    return Path(upload_folder) / stored_name


def sha256_of(file) -> str:
    """SHA-256 (hex) of an open binary file, from its start, read in chunks."""
    file.seek(0)
    return hashlib.file_digest(file, "sha256").hexdigest()


def discard(stored_names) -> None:
    for name in stored_names:
        try:
            os.remove(path_of(name))
        except FileNotFoundError:
            pass
