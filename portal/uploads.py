"""Content checks for uploaded documents: PDF, JPEG and PNG only, decided by content.

The type comes from the magic bytes (the pinned `filetype` library), never from the
client's file name or Content-Type. The checks are a filter, not a sanitiser:

- Polyglots: the first 1024 bytes must not contain `<script`, `<html` or `<?php` (any
  case). That is the window browsers sniff; markup further in is not looked for, so
  documents must still be served with their stored type, `nosniff` and as attachments.
- PDFs: rejected when the name /JavaScript, /JS, /Launch, /EmbeddedFile(s) or /AA
  occurs, also written with #xx escapes (/J#61vaScript). /OpenAction alone is allowed:
  an OpenAction that runs a script needs /JS or /JavaScript, which are rejected anyway.
  The scan is over the raw bytes, except the bodies of encoded (/Filter) streams that
  hold no object syntax: those are image or compressed data whose bytes mean nothing to
  a reader and would otherwise match by chance (about 0.75% of 1 MB of random data
  contains "/JS" or "/AA" as a name). Names inside compressed object streams (/ObjStm,
  PDF 1.5+) are not seen either way; this is a filter, not a PDF parser.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal, Protocol

import filetype

ALLOWED = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}

RejectCode = Literal["empty", "too_large", "bad_type", "bad_name", "active_content"]

_MESSAGES: dict[str, str] = {
    "empty": "The file is empty.",
    "too_large": "The file is too large.",
    "bad_type": "Only PDF, JPEG and PNG files are accepted.",
    "bad_name": "The file name is not acceptable.",
    "active_content": "PDF files with scripts or embedded actions are not accepted.",
}

_TOO_LARGE = "The file is larger than {mb} MB."
_PDF = "application/pdf"
_MB = 1024 * 1024  # MAX_UPLOAD_BYTES is configured in binary megabytes
_CHUNK = 64 * 1024
_HEAD = 8192  # all that filetype looks at
_POLYGLOT_WINDOW = 1024
_POLYGLOT_MARKERS = (b"<script", b"<html", b"<?php")
_MAX_NAME = 255
_DISPLAY_MAX = 120
_DISPLAY_FALLBACK = "document"

# PDF names (PDF 32000 7.3.5): "/" then regular characters, ending at whitespace or a
# delimiter; any character may be written as #xx. PDF names are case-sensitive.
_PDF_DELIMITERS = r"\x00\t\n\x0c\r ()<>\[\]{}/%"  # for a regex character class
_ACTIVE_NAMES = ("JavaScript", "JS", "Launch", "EmbeddedFile", "EmbeddedFiles", "AA")
# "stream" then EOL starts a stream body, which runs to "endstream".
_STREAM_START = re.compile(rb"(?<![A-Za-z])stream(?:\r\n|\r|\n)")
# Object syntax inside a supposed stream body: then it is not opaque data, scan it.
_OBJECT_SYNTAX = re.compile(rb"endobj|\d\s+\d+\s+obj(?![A-Za-z0-9])")
_STREAM_DICT_LOOKBACK = 4096

_DISPLAY_RESERVED = str.maketrans(dict.fromkeys('<>:"|?*', "_"))


def _pdf_name_pattern(*names: str) -> re.Pattern[bytes]:
    """Matches any of these whole PDF names, each character plain or #xx-escaped."""

    def hex_digit(digit: str) -> str:
        return f"[{digit.lower()}{digit.upper()}]" if digit.isalpha() else digit

    def char(ch: str) -> str:
        high, low = f"{ord(ch):02x}"
        return f"(?:{re.escape(ch)}|#{hex_digit(high)}{hex_digit(low)})"

    spelled = "|".join("".join(char(ch) for ch in name) for name in names)
    return re.compile(rf"/(?:{spelled})(?=[{_PDF_DELIMITERS}]|\Z)".encode("ascii"))


_ACTIVE_NAME = _pdf_name_pattern(*_ACTIVE_NAMES)
_FILTER_NAME = _pdf_name_pattern("Filter")


class UploadRejected(ValueError):
    """A failed check. `code` is stable (translate by it); str(e) is short English."""

    def __init__(self, code: RejectCode, message: str | None = None) -> None:
        super().__init__(message if message is not None else _MESSAGES[code])
        self.code: RejectCode = code

    def __reduce__(self) -> tuple[type[UploadRejected], tuple[str, str]]:
        # Keep code and message through pickling (job queues, multiprocessing).
        return type(self), (self.code, str(self))


class Readable(Protocol):
    """A binary file-like object."""

    def read(self, size: int = -1, /) -> bytes: ...


def sniff(head: bytes) -> str | None:
    """The MIME type of these leading bytes if it is one we accept, else None."""
    if not head:
        return None
    kind = filetype.guess(bytes(head[:_HEAD]))
    mime = kind.mime if kind is not None else None
    return mime if mime in ALLOWED else None


def inspect(stream: Readable, filename: str, max_bytes: int) -> tuple[str, int, str]:
    """Check an upload; returns (mime, size, sha256 hex) or raises UploadRejected.

    Reads the stream from its current position in chunks, never more than max_bytes + 1
    bytes in all. Keeps only the first 8 KB in memory, or the whole file for a PDF.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    if not _name_acceptable(filename):
        raise UploadRejected("bad_name")

    digest = hashlib.sha256()
    kept = bytearray()
    keep_all: bool | None = None  # decided once the head is in: only PDFs are kept whole
    size = 0
    while size <= max_bytes:
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        if isinstance(chunk, str):
            raise TypeError("inspect() needs a binary stream")
        size += len(chunk)
        digest.update(chunk)
        if keep_all is not False:
            kept += chunk
            if keep_all is None and len(kept) >= _HEAD:
                keep_all = sniff(bytes(kept[:_HEAD])) == _PDF

    if size == 0:
        raise UploadRejected("empty")
    if size > max_bytes:
        raise UploadRejected("too_large", _TOO_LARGE.format(mb=_megabytes(max_bytes)))
    mime = sniff(bytes(kept[:_HEAD]))
    if mime is None or _looks_like_markup(kept[:_POLYGLOT_WINDOW]):
        raise UploadRejected("bad_type")
    if mime == _PDF and _pdf_has_active_content(kept):
        raise UploadRejected("active_content")
    return mime, size, digest.hexdigest()


def safe_display_name(filename: str) -> str:
    """The client's file name made safe to show and to put in Content-Disposition.

    Keeps Unicode letters (Cyrillic, Kazakh); drops directories, control and invisible
    formatting characters; at most 120 characters, keeping a short extension.
    """
    if not isinstance(filename, str):
        return _DISPLAY_FALLBACK
    return _clean_name(filename) or _DISPLAY_FALLBACK


def _name_acceptable(filename: str) -> bool:
    # Like werkzeug's secure_filename() emptiness test, but Unicode-aware: secure_filename
    # drops all non-ASCII, which would refuse a plain Cyrillic name such as "справка".
    return (
        isinstance(filename, str)
        and "\x00" not in filename
        and len(filename) <= _MAX_NAME
        and bool(_clean_name(filename))
    )


def _clean_name(filename: str) -> str:
    text = unicodedata.normalize("NFC", filename)
    # Whitespace becomes a space; other controls, format characters (bidi overrides,
    # zero-width), surrogates, private-use and unassigned code points go.
    text = "".join(" " if ch.isspace() else ch for ch in text if _displayable(ch))
    text = re.split(r"[/\\]", text)[-1]  # the last path part, Windows or POSIX
    text = " ".join(text.translate(_DISPLAY_RESERVED).split()).strip(" .")
    if len(text) > _DISPLAY_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and len(ext) <= 16:
            text = stem[: _DISPLAY_MAX - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:_DISPLAY_MAX].rstrip(" .")
    return text


def _displayable(ch: str) -> bool:
    return ch.isspace() or not unicodedata.category(ch).startswith("C")


def _megabytes(max_bytes: int) -> str:
    """The limit in MB, rounded down so that "larger than" stays true."""
    places = 2 if max_bytes >= _MB else 6
    whole, fraction = divmod(max_bytes * 10**places // _MB, 10**places)
    return f"{whole}.{fraction:0{places}d}".rstrip("0").rstrip(".")


def _looks_like_markup(head: bytes | bytearray) -> bool:
    lowered = bytes(head).lower()
    return any(marker in lowered for marker in _POLYGLOT_MARKERS)


def _pdf_has_active_content(data: bytes | bytearray) -> bool:
    """Scan the PDF's names, skipping the bodies of encoded streams (see module doc)."""
    if not _ACTIVE_NAME.search(data):
        return False  # the usual case, and the cheap one
    scan_from = 0  # bytes before this were scanned, or are a skipped body
    previous_end = 0  # end of the previous stream body
    for keyword in _STREAM_START.finditer(data):
        if keyword.start() < previous_end:
            continue  # "stream" inside the previous body
        body_start = keyword.end()
        found = data.find(b"endstream", body_start)
        body_end = len(data) if found < 0 else found
        # The stream's dictionary: from its "N G obj" header, which is shortly before.
        window = max(previous_end, keyword.start() - _STREAM_DICT_LOOKBACK)
        header_at = data.rfind(b"obj", window, keyword.start())
        dictionary_from = window if header_at < 0 else header_at
        previous_end = body_end
        encoded = _FILTER_NAME.search(data, dictionary_from, keyword.start()) is not None
        if encoded and not _OBJECT_SYNTAX.search(data, body_start, body_end):
            if _ACTIVE_NAME.search(data, scan_from, body_start):
                return True
            scan_from = body_end
    return _ACTIVE_NAME.search(data, scan_from) is not None
