"""Content checks for uploaded documents: PDF, JPEG and PNG only, decided by content.

The type comes from the magic bytes (the pinned `filetype` library), never from the
client's file name or Content-Type. The checks are a filter, not a sanitiser:

- Polyglots: the first 1024 bytes (the window browsers sniff) must not contain `<script`,
  `<html` or `<?php` (any case). Further in, the whole file is searched for the same
  markers in their working form (`<script`, `<html` then `>` or a space, `<?php` then a
  space), which random image data holds by chance about once in 10^12 bytes. This is a
  search for what a browser would act on, not a reading of the format. Documents must
  still be served with their stored type, `nosniff` and as attachments.
- The format itself is read by well-kept libraries, never by hand-written patterns, in a
  separate process under CPU-time, memory and wall-clock limits (portal/content_check.py):
  PDFs by pikepdf (qpdf), which resolves the real object graph; JPEG and PNG by Pillow,
  decoded in full with a pixel limit; any file that Python's zipfile opens (GIFAR) is the
  wrong type. A file that fails to parse is refused as unreadable, one that exhausts the
  limits as too complex: no file up to the size limit holds a web worker for longer than
  the wall-clock limit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess  # nosec B404
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import filetype

ALLOWED = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}

RejectCode = Literal[
    "empty", "too_large", "bad_type", "bad_name", "active_content", "unreadable", "too_complex"
]

_MESSAGES: dict[str, str] = {
    "empty": "The file is empty.",
    "too_large": "The file is too large.",
    "bad_type": "Only PDF, JPEG and PNG files are accepted.",
    "bad_name": "The file name is not acceptable.",
    "active_content": "PDF files with scripts or embedded actions are not accepted.",
    "unreadable": (
        "The file could not be read. Save it again (for example, print it to PDF) "
        "and upload the copy."
    ),
    "too_complex": (
        "The file is too large or too complex to check. Save or scan it again as a simpler file."
    ),
}
# What the checker process may answer, besides "ok".
_VERDICTS = frozenset({"bad_type", "active_content", "unreadable", "too_complex"})
_CHECKER = Path(__file__).with_name("content_check.py")

_TOO_LARGE = "The file is larger than {mb} MB."
_MB = 1024 * 1024  # MAX_UPLOAD_BYTES is configured in binary megabytes
_CHUNK = 64 * 1024
_HEAD = 8192  # all that filetype looks at
_POLYGLOT_WINDOW = 1024
_POLYGLOT_MARKERS = (b"<script", b"<html", b"<?php")
# The same markers anywhere in the file, in the form that does something: narrower, so
# that compressed image data does not match by chance.
_MARKUP_ANYWHERE = re.compile(rb"(?i)<script|<html[\s>]|<\?php\s")
_MARKUP_OVERLAP = 8  # longest marker less one, carried between chunks
_MAX_NAME = 255
_DISPLAY_MAX = 120
_DISPLAY_FALLBACK = "document"
_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))]
)
_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/png": (".png",),
}

_DISPLAY_RESERVED = str.maketrans(dict.fromkeys('<>:"|?*', "_"))


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckLimits:
    """What one file's content check may spend (UPLOAD_CHECK_* settings)."""

    cpu_seconds: int = 2
    memory_mb: int = 512
    wall_seconds: float = 4.0
    max_pixels: int = 50_000_000  # an A4 page scanned at 600 dpi is 35 million

    @classmethod
    def from_config(cls, config) -> CheckLimits:
        return cls(
            cpu_seconds=int(config.get("UPLOAD_CHECK_CPU_SECONDS", cls.cpu_seconds)),
            memory_mb=int(config.get("UPLOAD_CHECK_MEMORY_MB", cls.memory_mb)),
            wall_seconds=float(config.get("UPLOAD_CHECK_WALL_SECONDS", cls.wall_seconds)),
            max_pixels=int(config.get("UPLOAD_MAX_IMAGE_PIXELS", cls.max_pixels)),
        )


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


def inspect(
    stream: Readable, filename: str, max_bytes: int, limits: CheckLimits | None = None
) -> tuple[str, int, str]:
    """Check an upload; returns (mime, size, sha256 hex) or raises UploadRejected.

    Reads the stream from its current position in chunks, never more than max_bytes + 1
    bytes in all, and keeps the file in memory for the content check.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    if not _name_acceptable(filename):
        raise UploadRejected("bad_name")

    digest = hashlib.sha256()
    kept = bytearray()
    overlap = b""
    markup = False
    size = 0
    while size <= max_bytes:
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        if isinstance(chunk, str):
            raise TypeError("inspect() needs a binary stream")
        size += len(chunk)
        digest.update(chunk)
        kept += chunk
        window = overlap + chunk
        markup = markup or _MARKUP_ANYWHERE.search(window) is not None
        overlap = window[-_MARKUP_OVERLAP:]

    if size == 0:
        raise UploadRejected("empty")
    if size > max_bytes:
        raise UploadRejected("too_large", _TOO_LARGE.format(mb=_megabytes(max_bytes)))
    mime = sniff(bytes(kept[:_HEAD]))
    if (
        mime is None
        or markup
        or _looks_like_markup(kept[:_POLYGLOT_WINDOW])
        or kept[-5:].lower() == b"<?php"  # PHP's open tag may also end the file
    ):
        raise UploadRejected("bad_type")
    verdict = check_content(bytes(kept), mime, limits or CheckLimits())
    if verdict != "ok":
        raise UploadRejected(verdict)
    return mime, size, digest.hexdigest()


def check_content(data: bytes, mime: str, limits: CheckLimits) -> str:
    """The checker process's verdict on this file: "ok" or a reject code.

    A process killed by its limits (CPU time, memory) or stopped at the wall-clock limit
    has spent the budget: "too_complex".
    """
    command = [
        sys.executable,
        "-I",  # no PYTHON* variables, no user site, no current directory on the path
        str(_CHECKER),
        mime,
        str(limits.cpu_seconds),
        str(limits.memory_mb),
        str(limits.max_pixels),
    ]
    try:
        finished = subprocess.run(  # noqa: S603  # nosec B603
            command,
            input=data,
            capture_output=True,
            timeout=limits.wall_seconds,
            env={},
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.info(
            "upload check stopped at %.1f s (%s, %d bytes)", limits.wall_seconds, mime, len(data)
        )
        return "too_complex"
    verdict = finished.stdout.decode("ascii", "replace").strip()
    if finished.returncode == 0 and (verdict == "ok" or verdict in _VERDICTS):
        return verdict
    # Killed by a limit (SIGXCPU, SIGKILL, out of memory): the budget is spent. Anything
    # else would be a fault of the checker: refuse the file too, and say so in the log.
    level = (
        logging.INFO
        if finished.returncode < 0 or b"MemoryError" in finished.stderr
        else logging.ERROR
    )
    log.log(
        level,
        "upload check ended with status %s (%s, %d bytes): %s",
        finished.returncode,
        mime,
        len(data),
        finished.stderr[-500:].decode("utf-8", "replace"),
    )
    return "too_complex"


def safe_display_name(filename: str) -> str:
    """The client's file name made safe to show and to put in Content-Disposition.

    Keeps Unicode letters (Cyrillic, Kazakh); drops directories, control and invisible
    formatting characters; at most 120 characters, keeping a short extension.
    """
    if not isinstance(filename, str):
        return _DISPLAY_FALLBACK
    return _clean_name(filename) or _DISPLAY_FALLBACK


def download_name(filename: str, mime: str) -> str:
    """The name to offer a stored document under: safe_display_name, with the extension
    its content has (a PDF never downloads as "x.pdf.exe") and no Windows device name."""
    name = safe_display_name(filename)
    extensions = _EXTENSIONS.get(mime, ())
    if extensions and not name.lower().endswith(extensions):
        name += extensions[0]
    if name.split(".")[0].rstrip().upper() in _DEVICE_NAMES:
        name = "_" + name
    return name


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
    # Fullwidth solidi count as separators too: they become "/" in a NFKC or ASCII fallback.
    text = "".join("/" if _slash_like(ch) else ch for ch in text)
    text = re.split(r"[/\\]", text)[-1]  # the last path part, Windows or POSIX
    text = " ".join(text.translate(_DISPLAY_RESERVED).split()).strip(" .")
    if len(text) > _DISPLAY_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and len(ext) <= 16:
            text = stem[: _DISPLAY_MAX - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:_DISPLAY_MAX].rstrip(" .")
    return text


def _slash_like(ch: str) -> bool:
    return ch > "\x7f" and any(c in "/\\" for c in unicodedata.normalize("NFKC", ch))


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
