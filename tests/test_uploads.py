"""Upload content checks: type by magic bytes, size, names, active PDF content."""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.uploads import ALLOWED, UploadRejected, inspect, safe_display_name, sniff
from tests.security.corpus import jpeg as tiny_jpeg
from tests.security.corpus import pdf, png_chunk
from tests.security.corpus import png as tiny_png

MB = 1024 * 1024
LIMIT = 10 * MB


def noise(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes, like image data; seeded so failures reproduce."""
    return random.Random(seed).randbytes(size)


# --- fixtures: real, minimal files ----------------------------------------------------


def minimal_pdf(catalog_extra: bytes = b"", tail: bytes = b"") -> bytes:
    """A one-page PDF with a correct xref table (the corpus builds it)."""
    return pdf(catalog=catalog_extra, tail=tail)


def tiny_gif() -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
        b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def rejection(data: bytes, filename: str = "file.pdf", max_bytes: int = LIMIT) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        inspect(io.BytesIO(data), filename, max_bytes)
    return caught.value


class CountingStream(io.BytesIO):
    """Records how many bytes were asked for and returned."""

    def __init__(self, data: bytes, piece: int | None = None) -> None:
        super().__init__(data)
        self.returned = 0
        self.piece = piece  # return at most this many bytes per read, like a socket

    def read(self, size: int | None = -1, /) -> bytes:
        if self.piece is not None and (size is None or size < 0 or size > self.piece):
            size = self.piece
        chunk = super().read(size)
        self.returned += len(chunk)
        return chunk


# --- accepted files ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data, filename, mime",
    [
        (minimal_pdf(), "заявление.pdf", "application/pdf"),
        (tiny_png(), "photo.png", "image/png"),
        (tiny_jpeg(), "скан паспорта.jpg", "image/jpeg"),
    ],
)
def test_accepts_pdf_png_jpeg(data: bytes, filename: str, mime: str) -> None:
    assert inspect(io.BytesIO(data), filename, LIMIT) == (
        mime,
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert sniff(data) == mime
    assert mime in ALLOWED


def test_type_comes_from_content_not_name() -> None:
    # A PNG called .pdf is a PNG; the extension the portal uses follows the content.
    mime, _, _ = inspect(io.BytesIO(tiny_png()), "scan.pdf", LIMIT)
    assert mime == "image/png" and ALLOWED[mime] == ".png"


def test_exactly_at_the_limit_is_accepted() -> None:
    data = minimal_pdf()
    assert inspect(io.BytesIO(data), "a.pdf", len(data))[1] == len(data)


def test_reads_from_the_current_position() -> None:
    stream = io.BytesIO(b"junk" + tiny_png())
    stream.seek(4)
    assert inspect(stream, "a.png", LIMIT)[0] == "image/png"


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_short_reads_are_fine(piece: int) -> None:
    data = minimal_pdf(tail=b"% padding\n" * 2000)  # longer than the 8 KB head
    stream = CountingStream(data, piece=piece)
    assert inspect(stream, "a.pdf", LIMIT) == (
        "application/pdf",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


def test_large_pdf_is_scanned_past_the_first_chunk() -> None:
    padding = b"% " + b"x" * 100 + b"\n"
    data = minimal_pdf(tail=padding * 5000 + b"4 0 obj\n<< /S /JavaScript >>\nendobj\n")
    assert len(data) > 256 * 1024
    assert rejection(data).code == "active_content"
    stream = CountingStream(data, piece=1000)
    with pytest.raises(UploadRejected):
        inspect(stream, "a.pdf", LIMIT)


# --- empty, size ---------------------------------------------------------------------


def test_empty() -> None:
    error = rejection(b"")
    assert error.code == "empty"
    assert str(error) == "The file is empty."


def test_too_large() -> None:
    data = minimal_pdf()
    error = rejection(data, max_bytes=len(data) - 1)
    assert error.code == "too_large"
    assert str(error).startswith("The file is larger than ")


@pytest.mark.parametrize(
    "max_bytes, shown",
    [(10 * MB, "10"), (MB, "1"), (MB + MB // 2, "1.5"), (MB // 2, "0.5"), (11 * MB - 1, "10.99")],
)
def test_too_large_message_states_limit_in_mb(max_bytes: int, shown: str) -> None:
    stream = CountingStream(b"\0" * (max_bytes + 1000))
    with pytest.raises(UploadRejected) as caught:
        inspect(stream, "a.pdf", max_bytes)
    assert caught.value.code == "too_large"
    assert str(caught.value) == f"The file is larger than {shown} MB."


@pytest.mark.parametrize("max_bytes", [1, 100, 64 * 1024, 64 * 1024 + 1, 200_000])
def test_never_reads_more_than_max_bytes_plus_one(max_bytes: int) -> None:
    stream = CountingStream(noise(max_bytes * 3 + 10))
    with pytest.raises(UploadRejected) as caught:
        inspect(stream, "a.pdf", max_bytes)
    assert caught.value.code == "too_large"
    assert stream.returned == max_bytes + 1


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        inspect(io.BytesIO(b"x"), "a.pdf", 0)


def test_text_stream_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        inspect(io.StringIO("%PDF-1.4"), "a.pdf", LIMIT)  # type: ignore[arg-type]


# --- wrong types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, filename",
    [
        (b"This is a plain text file, not a PDF.\n", "evil.pdf"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "invoice.pdf"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "photo.jpg"),
        (tiny_gif(), "photo.png"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 100, "docs.pdf"),
        (b"<html><body>hi</body></html>", "page.png"),
        (b"%PD", "short.pdf"),
    ],
)
def test_bad_type(data: bytes, filename: str) -> None:
    error = rejection(data, filename)
    assert error.code == "bad_type"
    assert str(error) == "Only PDF, JPEG and PNG files are accepted."
    assert sniff(data) is None


def test_sniff_rejects_gif_and_empty() -> None:
    assert sniff(tiny_gif()) is None
    assert sniff(b"") is None


def test_animated_png_is_not_accepted() -> None:
    # filetype reports a PNG with an acTL chunk as image/apng, which is not in ALLOWED.
    animated = tiny_png(png_chunk(b"acTL", struct.pack(">II", 1, 0)))
    assert rejection(animated, "a.png").code == "bad_type"


@pytest.mark.parametrize(
    "data",
    [
        tiny_png(png_chunk(b"tEXt", b"Comment\x00<script>alert(1)</script>")),
        tiny_png(png_chunk(b"tEXt", b"Comment\x00<SCRIPT SRC=//x>")),
        tiny_jpeg()[:2] + b"\xff\xfe\x00\x0e<html><body>" + tiny_jpeg()[2:],
        minimal_pdf(catalog_extra=b"/X (<?php system($_GET[c]); ?>) "),
    ],
)
def test_polyglot_in_first_kilobyte_is_bad_type(data: bytes) -> None:
    assert rejection(data, "a.png").code == "bad_type"


def test_markup_after_first_kilobyte_is_refused_too() -> None:
    # The whole file is looked through, not just its first kilobyte.
    data = tiny_png(png_chunk(b"tEXt", b"Comment\x00" + b"x" * 1100 + b"<script>"))
    with pytest.raises(UploadRejected) as refused:
        inspect(io.BytesIO(data), "a.png", LIMIT)
    assert refused.value.code == "bad_type"


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "",
        "../",
        "..",
        "/",
        "\\..\\",
        " . ",
        "a\x00.pdf",
        "scan.pdf\x00.exe",
        "\x01\x02\x03",
        "\u202e\u200b",
        "x" * 252 + ".pdf",
        "я" * 300,
    ],
)
def test_bad_name(filename: str) -> None:
    error = rejection(minimal_pdf(), filename)
    assert error.code == "bad_name"
    assert str(error) == "The file name is not acceptable."


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "C:\\Users\\Айгерим\\Documents\\справка.pdf",
        "справка",
        "x" * 251 + ".pdf",
    ],
)
def test_names_with_paths_or_no_extension_are_accepted(filename: str) -> None:
    # Old browsers send full paths; only the last part is ever shown.
    assert inspect(io.BytesIO(minimal_pdf()), filename, LIMIT)[0] == "application/pdf"


@pytest.mark.parametrize(
    "filename, shown",
    [
        ("заявление.pdf", "заявление.pdf"),
        ("Анықтама №5.pdf", "Анықтама №5.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\Users\\Айгерим\\скан.jpg", "скан.jpg"),
        ("a\r\nContent-Type: text.pdf", "a Content-Type_ text.pdf"),
        ("text/html.pdf", "html.pdf"),
        ('say "hi".pdf', "say _hi_.pdf"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("  lots   of\tspace .pdf ", "lots of space .pdf"),
        ("...hidden", "hidden"),
        ("trailing dots...", "trailing dots"),
        ("", "document"),
        ("../", "document"),
        ("\x00\x01", "document"),
        ("e\u0301.pdf", "\u00e9.pdf"),  # NFC
    ],
)
def test_safe_display_name(filename: str, shown: str) -> None:
    assert safe_display_name(filename) == shown


def test_safe_display_name_caps_length_keeping_extension() -> None:
    shown = safe_display_name("д" * 300 + ".pdf")
    assert len(shown) == 120
    assert shown == "д" * 116 + ".pdf"
    assert safe_display_name("д" * 300) == "д" * 120


@given(st.text(max_size=400))
def test_safe_display_name_is_always_safe(filename: str) -> None:
    shown = safe_display_name(filename)
    assert 0 < len(shown) <= 120
    assert not any(ch in shown for ch in '/\\\x00\r\n"')
    assert shown == shown.strip()
    assert all(ch.isprintable() for ch in shown)


# --- active PDF content ---------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> ",
        b"/Names << /JavaScript 4 0 R >> ",
        b"/OpenAction 4 0 R /AA << /WC 5 0 R >> ",
        b"/OpenAction << /S /Launch /F (cmd.exe) >> ",
        b"/Names << /EmbeddedFiles 4 0 R >> ",
        b"/X << /Type /EmbeddedFile >> ",
        b"/OpenAction << /S /J#61vaScript /J#53 (x) >> ",
        b"/OpenAction << /S /#4a#61#76#61#53#63#72#69#70#74 >> ",
        b"/OpenAction<</S/JavaScript/JS(x)>>",
        b"/A#41 << >> ",
        b"/OpenAction << /S /L#61unch >> ",
    ],
)
def test_pdf_active_content(extra: bytes) -> None:
    error = rejection(minimal_pdf(catalog_extra=extra))
    assert error.code == "active_content"
    assert str(error) == "PDF files with scripts or embedded actions are not accepted."


def test_pdf_active_content_in_a_later_object() -> None:
    data = minimal_pdf(tail=b"4 0 obj\n<< /S /JavaScript /JS 5 0 R >>\nendobj\n")
    assert rejection(data).code == "active_content"


@pytest.mark.parametrize(
    "extra",
    [
        b"/OpenAction [3 0 R /Fit] ",  # open at the first page: no script
        b"/PageMode /UseOutlines /Lang (kk-KZ) ",
        b"/JSX 1 /AAA 2 /Javascript 3 /LaunchX 4 ",  # other names (PDF names are case-sensitive)
        b"/Title (JavaScript for beginners) ",  # text, not a name
    ],
)
def test_pdf_without_active_content(extra: bytes) -> None:
    data = minimal_pdf(catalog_extra=extra)
    assert inspect(io.BytesIO(data), "a.pdf", LIMIT)[0] == "application/pdf"


def stream_object(number: int, dictionary: bytes, body: bytes) -> bytes:
    return (
        b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, dictionary, len(body))
        + body
        + b"\nendstream\nendobj\n"
    )


def test_pdf_encoded_stream_bytes_do_not_count() -> None:
    # Image data can hold "/JS " by chance; in an encoded stream it is not PDF syntax.
    image = noise(500, 1) + b"/JS " + noise(500, 2) + b"/AA\n" + noise(100, 3)
    data = minimal_pdf(tail=stream_object(4, b"/Filter /DCTDecode /Width 8 /Height 8", image))
    assert inspect(io.BytesIO(data), "a.pdf", LIMIT)[0] == "application/pdf"


def test_pdf_unencoded_stream_is_scanned() -> None:
    # An uncompressed object stream is readable PDF syntax.
    body = b"5 0 << /S /JavaScript /JS (x) >>"
    data = minimal_pdf(tail=stream_object(4, b"/Type /ObjStm /N 1 /First 4", body))
    assert rejection(data).code == "active_content"


def test_pdf_fake_stream_hiding_objects_is_scanned() -> None:
    # A "stream" opened in a comment to hide real objects: the body has object syntax.
    hidden = b"% << /Filter /FlateDecode >>\nstream\n4 0 obj\n<< /S /JavaScript >>\nendobj\n"
    data = minimal_pdf(tail=hidden + b"endstream\n")
    assert rejection(data).code == "active_content"


def test_pdf_names_after_encoded_stream_are_scanned() -> None:
    tail = stream_object(4, b"/Filter /FlateDecode", zlib.compress(b"q Q")) + (
        b"5 0 obj\n<< /S /Launch >>\nendobj\n"
    )
    assert rejection(minimal_pdf(tail=tail)).code == "active_content"


def test_pdf_with_many_random_encoded_streams_is_accepted() -> None:
    # About 1 MB of random "image data": scanning it raw would reject ~1 in 130 such files.
    tail = b"".join(
        stream_object(n, b"/Filter /FlateDecode", noise(64 * 1024, n)) for n in range(4, 20)
    )
    data = minimal_pdf(tail=tail)
    assert inspect(io.BytesIO(data), "a.pdf", LIMIT)[0] == "application/pdf"


@given(st.binary(max_size=2000))
def test_inspect_only_raises_upload_rejected(data: bytes) -> None:
    for blob in (data, b"%PDF-1.7\n" + data, tiny_png() + data):
        try:
            mime, size, digest = inspect(io.BytesIO(blob), "a.pdf", 1500)
        except UploadRejected as error:
            assert error.code in {"empty", "too_large", "bad_type", "active_content"}
        else:
            assert mime in ALLOWED and size == len(blob) <= 1500
            assert digest == hashlib.sha256(blob).hexdigest()


def test_upload_rejected_is_a_value_error_and_pickles() -> None:
    error = rejection(b"", "a.pdf")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert (copy.code, str(copy)) == ("empty", "The file is empty.")
    assert str(UploadRejected("too_large")) == "The file is too large."


def test_safe_display_name_survives_lone_surrogates() -> None:
    # Names decoded with surrogateescape can carry lone surrogates.
    assert safe_display_name("\udcffскан\udc80.pdf") == "скан.pdf"
