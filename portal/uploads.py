"""Content checks for uploaded documents: PDF, JPEG and PNG only, decided by content.

The type comes from the magic bytes (the pinned `filetype` library), never from the
client's file name or Content-Type. The checks are a filter, not a sanitiser:

- Polyglots: the first 1024 bytes (the window browsers sniff) must not contain `<script`,
  `<html` or `<?php` (any case). Further in, the whole file is searched for the same
  markers in their working form (`<script`, `<html` then `>` or a space, `<?php` then a
  space), which random image data holds by chance about once in 10^12 bytes. A file
  that a ZIP reader would open (an end-of-central-directory record in its last 64 KB,
  GIFAR-style) is refused too. Documents must still be served with their stored type,
  `nosniff` and as attachments.
- PDFs: rejected when the name /JavaScript, /JS, /Launch, /EmbeddedFile(s), /AA,
  /RichMedia or /XFA occurs, also written with #xx escapes (/J#61vaScript), and when
  /OpenAction is anything but a destination or a /GoTo action (a /URI, /GoToR or
  /SubmitForm run on opening reaches out of the document without a click).
  The scan is over the raw bytes, except the bodies of encoded (/Filter) streams that
  hold no object syntax: those are image or compressed data whose bytes mean nothing to
  a reader and would otherwise match by chance (about 0.75% of 1 MB of random data
  contains "/JS" or "/AA" as a name). Object streams (/ObjStm, PDF 1.5+), which hide
  whole objects in compressed data, are inflated with zlib within a budget and scanned;
  one with a filter other than /FlateDecode, a predictor, a broken body or more than
  the budget cannot be inspected and is refused. A /FlateDecode body whose first bytes
  read like an object stream's header is inflated and scanned whatever its dictionary
  says. The stream dictionary is found by a heuristic (its "N G obj" header): this is a
  filter, not a PDF parser.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
import zlib
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
# The same markers anywhere in the file, in the form that does something: narrower, so
# that compressed image data does not match by chance.
_MARKUP_ANYWHERE = re.compile(rb"(?i)<script|<html[\s>]|<\?php\s")
_MARKUP_OVERLAP = 8  # longest marker less one, carried between chunks
# A ZIP reader looks for this record in the last 64 KB + 22 bytes of the file.
_ZIP_END = b"PK\x05\x06"
_ZIP_TAIL = 65535 + 22
_MAX_NAME = 255
_DISPLAY_MAX = 120
_DISPLAY_FALLBACK = "document"

# PDF names (PDF 32000 7.3.5): "/" then regular characters, ending at whitespace or a
# delimiter; any character may be written as #xx. PDF names are case-sensitive.
_PDF_DELIMITERS = r"\x00\t\n\x0c\r ()<>\[\]{}/%"  # for a regex character class
_ACTIVE_NAMES = (
    "JavaScript",
    "JS",
    "Launch",
    "EmbeddedFile",
    "EmbeddedFiles",
    "AA",
    "RichMedia",
    "XFA",
)
# "stream" then EOL starts a stream body, which runs to "endstream".
_STREAM_START = re.compile(rb"(?<![A-Za-z])stream(?:\r\n|\r|\n)")
# Object syntax inside a supposed stream body: then it is not opaque data, scan it.
_OBJECT_SYNTAX = re.compile(rb"endobj|\d\s+\d+\s+obj(?![A-Za-z0-9])")
_STREAM_DICT_LOOKBACK = 16 * 1024
_OBJECT_HEADER = re.compile(rb"(?<![0-9])\d+\s+\d+\s+obj(?![A-Za-z0-9])")
# All object streams of one file inflate to at most this: a zip bomb stops here.
_INFLATE_BUDGET = 64 * _MB
# The start of an object stream's body: pairs of object number and offset.
_OBJSTM_HEAD = re.compile(rb"\A(?:\s|%[^\r\n]*)*\d+\s+\d+\s")
_PEEK = 64
_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))]
)
_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/png": (".png",),
}

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
_FIRST_NAME = _pdf_name_pattern("First")
_OPEN_ACTION = _pdf_name_pattern("OpenAction")
_PARAMETERS_NAME = _pdf_name_pattern("DecodeParms", "DP")
_FLATE = {b"FlateDecode", b"Fl"}


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
    bytes in all. Keeps the first 8 KB and the last 64 KB in memory, or the whole file
    for a PDF.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    if not _name_acceptable(filename):
        raise UploadRejected("bad_name")

    digest = hashlib.sha256()
    kept = bytearray()
    keep_all: bool | None = None  # decided once the head is in: only PDFs are kept whole
    tail = b""
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
        if keep_all is not False:
            kept += chunk
            if keep_all is None and len(kept) >= _HEAD:
                keep_all = sniff(bytes(kept[:_HEAD])) == _PDF
        window = overlap + chunk
        markup = markup or _MARKUP_ANYWHERE.search(window) is not None
        overlap = window[-_MARKUP_OVERLAP:]
        tail = (tail + chunk)[-_ZIP_TAIL:]

    if size == 0:
        raise UploadRejected("empty")
    if size > max_bytes:
        raise UploadRejected("too_large", _TOO_LARGE.format(mb=_megabytes(max_bytes)))
    mime = sniff(bytes(kept[:_HEAD]))
    if (
        mime is None
        or markup
        or _looks_like_markup(kept[:_POLYGLOT_WINDOW])
        or tail[-5:].lower() == b"<?php"  # PHP's open tag may also end the file
        or _opens_as_zip(tail, size)
    ):
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


def _opens_as_zip(tail: bytes, size: int) -> bool:
    """Whether the file ends with a plausible ZIP end-of-central-directory record."""
    tail_from = size - len(tail)
    at = tail.rfind(_ZIP_END)
    while at >= 0:
        record = tail[at + 4 : at + 22]
        if len(record) == 18:
            disk, directory_disk, here, total, length, offset, _comment = struct.unpack(
                "<HHHHIIH", record
            )
            # Random bytes pass these by chance about once in 2^64.
            if (
                disk == directory_disk == 0
                and here <= total
                and (offset == 0xFFFFFFFF or offset + length <= tail_from + at)
            ):
                return True
        at = tail.rfind(_ZIP_END, 0, at)
    return False


class _Uninspectable(Exception):
    """PDF content that cannot be read within the rules: refused as if it were active."""


def _pdf_has_active_content(data: bytes | bytearray) -> bool:
    """Scan the PDF's names (see module doc); True also when it cannot be inspected."""
    data = bytes(data)
    try:
        regions, object_streams = _pdf_regions(data)
        texts = [(data, a, b) for a, b in regions] + [(o, 0, len(o)) for o, _ in object_streams]
        if any(_ACTIVE_NAME.search(text, a, b) for text, a, b in texts):
            return True
        for text, a, b in texts:
            for found in _OPEN_ACTION.finditer(text, a, b):
                if not _harmless_open_action(data, object_streams, text, found.end()):
                    return True
    except _Uninspectable:
        return True
    return False


def _pdf_regions(data: bytes) -> tuple[list[tuple[int, int]], list[tuple[bytes, int | None]]]:
    """Raw ranges to scan, and inflated object streams (with their /First, if known)."""
    regions: list[tuple[int, int]] = []
    object_streams: list[tuple[bytes, int | None]] = []
    budget = [_INFLATE_BUDGET]
    scan_from = 0  # bytes before this are in a region, or are a skipped body
    previous_end = 0  # end of the previous stream body
    while keyword := _STREAM_START.search(data, previous_end):  # not inside a body
        body_start = keyword.end()
        found = data.find(b"endstream", body_start)
        body_end = len(data) if found < 0 else found
        # The stream's dictionary: from its "N G obj" header, which is shortly before.
        window = max(previous_end, keyword.start() - _STREAM_DICT_LOOKBACK)
        headers = list(_OBJECT_HEADER.finditer(data, window, keyword.start()))
        dictionary = data[headers[-1].end() if headers else window : keyword.start()]
        previous_end = body_end
        body = data[body_start:body_end]
        if _FIRST_NAME.search(dictionary):  # an object stream
            object_streams.append((_decode(dictionary, body, budget), _first(dictionary)))
        elif _looks_like_object_stream(body):
            object_streams.append((_inflate(body, budget), None))
        encoded = _FILTER_NAME.search(dictionary) is not None
        if encoded and not _OBJECT_SYNTAX.search(data, body_start, body_end):
            regions.append((scan_from, body_start))
            scan_from = body_end
    regions.append((scan_from, len(data)))
    return regions, object_streams


def _decode(dictionary: bytes, body: bytes, budget: list[int]) -> bytes:
    found = _FILTER_NAME.search(dictionary)
    if found is None:
        return body
    value = re.match(rb"\s*(\[[^\]]*\]|/[^\s/\[\]<>()%]+)", dictionary[found.end() :])
    if value is None or _PARAMETERS_NAME.search(dictionary):
        raise _Uninspectable  # an indirect filter, or a predictor that shuffles bytes
    filters = [_unescape_name(name) for name in re.findall(rb"/([^\s/\[\]<>()%]+)", value[1])]
    if not filters or any(name not in _FLATE for name in filters):
        raise _Uninspectable
    for _ in filters:
        body = _inflate(body, budget)
    return body


def _inflate(body: bytes, budget: list[int]) -> bytes:
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(body, budget[0] + 1)
    except zlib.error:
        raise _Uninspectable from None
    if len(inflated) > budget[0]:
        raise _Uninspectable  # past the budget: a zip bomb, or too much to read
    if not inflater.eof:
        raise _Uninspectable  # cut short: what a reader makes of it is anyone's guess
    budget[0] -= len(inflated)
    return inflated


def _looks_like_object_stream(body: bytes) -> bool:
    """A zlib body whose first inflated bytes read "number number ...": inflate it all."""
    if len(body) < 2 or body[0] & 0x0F != 8 or (body[0] << 8 | body[1]) % 31:
        return False
    try:
        head = zlib.decompressobj().decompress(body, _PEEK)
    except zlib.error:
        return False  # not zlib after all: opaque data, as before
    return _OBJSTM_HEAD.match(head) is not None


def _first(dictionary: bytes) -> int | None:
    found = _FIRST_NAME.search(dictionary)
    number = re.match(rb"\s*(\d+)(?!\s+\d+\s+R)", dictionary[found.end() :]) if found else None
    return int(number[1]) if number else None


def _unescape_name(name: bytes) -> bytes:
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), name)


def _harmless_open_action(data: bytes, object_streams, text, at: int) -> bool:
    """/OpenAction opens at a page ([destination] or /GoTo), or runs something else."""
    value = re.match(rb"(?:\s|%[^\r\n]*)*(\d+)\s+(\d+)\s+R(?![A-Za-z0-9])", text[at : at + 64])
    if value is None:
        return _harmless_action_value(text, at)
    number, generation = int(value[1]), int(value[2])
    header = re.compile(rb"(?<![0-9])%d\s+%d\s+obj(?![A-Za-z0-9])" % (number, generation))
    definitions = list(header.finditer(data))
    if definitions:  # the last one wins, as after an incremental update
        return _harmless_action_value(data, definitions[-1].end())
    for inflated, first in object_streams:
        place = _in_object_stream(inflated, first, number)
        if place is not None:
            return _harmless_action_value(inflated, place)
    return False  # not found: cannot say what it does


def _in_object_stream(inflated: bytes, first: int | None, number: int) -> int | None:
    if first is None or first > len(inflated):
        return None
    numbers = [int(n) for n in re.findall(rb"\d+", inflated[:first])]
    for object_number, offset in zip(numbers[::2], numbers[1::2], strict=False):
        if object_number == number:
            return first + offset
    return None


def _harmless_action_value(text, at: int) -> bool:
    start = re.match(rb"(?:\s|%[^\r\n]*)*", text[at : at + 4096]).end() + at
    if text[start : start + 1] == b"[":
        return True  # an explicit destination: a page and a view
    if text[start : start + 2] != b"<<":
        return False
    action = _unescape_name(bytes(text[start : _dictionary_end(text, start)]))
    kinds = re.findall(rb"/S(?=[\s/])\s*/([^\s/\[\]<>()%]+)", action)
    return kinds == [b"GoTo"] and re.search(rb"/Next(?![^\s/\[\]<>()%])", action) is None


def _dictionary_end(text, start: int) -> int:
    """The end of the << >> dictionary at start, skipping (strings) and <hex strings>."""
    depth, at, end = 0, start, min(len(text), start + 64 * 1024)
    while at < end:
        two = bytes(text[at : at + 2])
        if two == b"<<":
            depth, at = depth + 1, at + 2
        elif two == b">>":
            depth, at = depth - 1, at + 2
            if depth == 0:
                return at
        elif two[:1] == b"(":
            at = _string_end(text, at, end)
        elif two[:1] == b"<":
            closing = bytes(text[at:end]).find(b">")
            at = end if closing < 0 else at + closing + 1
        else:
            at += 1
    return end


def _string_end(text, at: int, end: int) -> int:
    nesting = 0
    while at < end:
        ch = text[at]
        if ch == 0x5C:  # backslash escapes the next byte
            at += 2
            continue
        nesting += (ch == 0x28) - (ch == 0x29)
        at += 1
        if nesting == 0:
            return at
    return end
