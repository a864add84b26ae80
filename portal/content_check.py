"""The content check of one upload, run as its own process under resource limits.

`python -I content_check.py MIME CPU_SECONDS MEMORY_MB MAX_PIXELS` reads the file on
standard input and prints one word: `ok`, or the reject code (`bad_type`,
`active_content`, `unreadable`, `too_complex`). A process that the limits kill prints
nothing; the portal (portal/uploads.py) refuses that file as too complex.

Every format is read by a well-kept library, never by hand-written patterns:
- PDFs by pikepdf (qpdf), which resolves the real object graph: cross-reference tables
  and streams, object streams, chained filters, incremental updates (the last definition
  of each object wins, as in every reader), and repairs a damaged file the way readers do.
  Every object it finds is walked, reachable from the catalogue or not.
- JPEG and PNG by Pillow, decoded in full, with a pixel limit against decompression bombs.
- Any file that Python's zipfile would open as an archive (GIFAR-style polyglots) is
  refused as the wrong type.

This file imports nothing from the portal: it runs with `-I` (no environment, no
current directory on the path), so a hostile file meets as little code as possible.
"""

from __future__ import annotations

import io
import resource
import sys
import warnings
import zipfile
from urllib.parse import urlsplit

# Names whose presence anywhere (as a key or a value) means active or embedded content.
ACTIVE_NAMES = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/FileAttachment",
        "/RichMedia",
        "/RichMediaExecute",
        "/XFA",
        "/AA",  # additional actions: run on events (page open, print, close) without a click
        "/GoToR",
        "/GoToE",
        "/ImportData",
        "/SubmitForm",
    }
)
# The actions a link may take: move inside the document, open a web or mail address, or
# a reader's named command (next page, print).
SAFE_ACTIONS = frozenset({"/GoTo", "/URI", "/Named"})
SAFE_URI_SCHEMES = frozenset({"http", "https", "mailto"})
# Keys whose value is an action (or an array of actions).
ACTION_KEYS = frozenset({"/A", "/Next", "/PA"})


def set_limits(cpu_seconds: int, memory_mb: int) -> None:
    """Bound this process: CPU time (SIGXCPU, then SIGKILL), address space, no files."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def check(data: bytes, mime: str, max_pixels: int) -> str:
    """The verdict on one file whose magic bytes said `mime`: "ok" or a reject code."""
    if _opens_as_zip(data):
        return "bad_type"
    if mime == "application/pdf":
        return _check_pdf(data)
    if mime in ("image/jpeg", "image/png"):
        return _check_image(data, mime, max_pixels)
    return "bad_type"


def _opens_as_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return False


# --- PDF ----------------------------------------------------------------------------------


def _check_pdf(data: bytes) -> str:
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        return "unreadable"  # encrypted: nobody could check it, staff could not read it
    except pikepdf.PdfError:
        return "unreadable"
    with pdf:
        try:
            if not _open_action_harmless(pdf.Root.get("/OpenAction")):
                return "active_content"
            if any(_is_active(obj) for obj in _all_objects(pdf)):
                return "active_content"
        except pikepdf.PdfError:
            return "unreadable"
    return "ok"


def _all_objects(pdf):
    """Every indirect object qpdf knows of, with the trailer (it names the catalogue)."""
    yield pdf.trailer
    yield from pdf.objects


def _is_active(root) -> bool:
    """Whether this object, or any direct object nested in it, is active content.

    Indirect objects inside are not followed: each is visited on its own (_all_objects),
    which also makes cycles harmless. The walk keeps its own stack: no recursion limit.
    """
    import pikepdf

    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Name):
            if str(obj) in ACTIVE_NAMES:
                return True
            continue
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            for key in obj.keys():
                if key in ACTIVE_NAMES:
                    return True
                if key in ACTION_KEYS and not _actions_safe(obj.get(key)):
                    return True
            stack.extend(v for v in obj.values() if _direct_container(v))
        elif isinstance(obj, pikepdf.Array):
            stack.extend(v for v in obj if _direct_container(v))
    return False


def _direct_container(value) -> bool:
    # Numbers come back as Python numbers; names, strings and containers as pikepdf objects.
    return not getattr(value, "is_indirect", True)


def _actions_safe(value) -> bool:
    """An action, or an array of them (/Next): each of a safe kind, with a safe address."""
    import pikepdf

    if isinstance(value, pikepdf.Array):
        return all(_actions_safe(item) for item in value)
    if not isinstance(value, pikepdf.Dictionary):
        return True  # not an action: readers ignore it
    kind = value.get("/S")
    if kind is None:
        return True  # not an action dictionary (/A also names other things in some places)
    if str(kind) not in SAFE_ACTIONS:
        return False
    if str(kind) == "/URI" and not _uri_safe(value.get("/URI")):
        return False
    return True


def _uri_safe(uri) -> bool:
    import pikepdf

    if not isinstance(uri, pikepdf.String):
        return False
    text = bytes(uri).decode("latin-1")
    # Readers strip what URL parsers strip: controls and spaces around and inside the scheme.
    text = "".join(ch for ch in text if ch > " " and ch != "\x7f")
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_URI_SCHEMES


def _open_action_harmless(value) -> bool:
    """/OpenAction runs without a click: only a destination or a plain /GoTo is allowed.

    A /URI or any other action on opening reaches out of the document; a reference that
    resolves to nothing (null) may mean something else to another reader: refused too.
    """
    import pikepdf

    if value is None:
        return True
    if isinstance(value, pikepdf.Array | pikepdf.Name | pikepdf.String):
        return True  # an explicit or named destination
    if isinstance(value, pikepdf.Dictionary):
        return str(value.get("/S")) == "/GoTo" and "/Next" not in value
    return False


# --- images -------------------------------------------------------------------------------


def _check_image(data: bytes, mime: str, max_pixels: int) -> str:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels
    expected = {"image/jpeg": "JPEG", "image/png": "PNG"}[mime]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return "too_complex"
                image.load()  # decode every pixel: a truncated or corrupt image fails here
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return "too_complex"
        except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError):
            return "unreadable"
    return "ok"


def main(argv: list[str]) -> int:
    mime, cpu_seconds, memory_mb, max_pixels = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    set_limits(cpu_seconds, memory_mb)
    data = sys.stdin.buffer.read()
    try:
        verdict = check(data, mime, max_pixels)
    except MemoryError:
        verdict = "too_complex"
    sys.stdout.write(verdict + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
