"""Upload content checks: type by magic bytes, size, names, active PDF content."""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.uploads import (
    ALLOWED,
    CheckLimits,
    UploadRejected,
    check_content,
    inspect,
    safe_display_name,
    sniff,
)
from tests.security.corpus import jpeg as tiny_jpeg
from tests.security.corpus import jpeg_sized, pdf, pdf_packed, png_chunk, png_sized
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


def test_large_pdf_is_checked_past_the_first_chunk() -> None:
    padding = b"% " + b"x" * 100 + b"\n"
    data = pdf(objects=(b"<< /S /JavaScript >>",), tail=padding * 5000)
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
        b"/Names << /JavaScript << /Names [(a) << /S /JavaScript /JS (x) >>] >> >> ",
        b"/OpenAction 4 0 R /AA << /WC 5 0 R >> ",
        b"/OpenAction << /S /Launch /F (cmd.exe) >> ",
        b"/Names << /EmbeddedFiles << /Names [] >> >> ",
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
    data = pdf(objects=(b"<< /S /JavaScript /JS 5 0 R >>",))
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


def stream_object(dictionary: bytes, body: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(body)) + body + b"\nendstream"


def test_pdf_encoded_stream_bytes_do_not_count() -> None:
    # Image data can hold "/JS " by chance; in an encoded stream it is not PDF syntax.
    image = noise(500, 1) + b"/JS " + noise(500, 2) + b"/AA\n" + noise(100, 3)
    data = pdf(objects=(stream_object(b"/Filter /DCTDecode /Width 8 /Height 8", image),))
    assert inspect(io.BytesIO(data), "a.pdf", LIMIT)[0] == "application/pdf"


def test_pdf_uncompressed_object_stream_is_read() -> None:
    data = pdf_packed({5: b"<< /S /JavaScript /JS (x) >>"}, filters=b"", encode=bytes)
    assert rejection(data).code == "active_content"


def test_pdf_objects_after_an_encoded_stream_are_read() -> None:
    flate = stream_object(b"/Filter /FlateDecode", zlib.compress(b"q Q"))
    assert rejection(pdf(objects=(flate, b"<< /S /Launch >>"))).code == "active_content"


def test_pdf_with_many_random_encoded_streams_is_accepted() -> None:
    # About 1 MB of random "image data": a pattern scan of it would match names by chance.
    streams = tuple(stream_object(b"/Filter /FlateDecode", noise(64 * 1024, n)) for n in range(16))
    data = pdf(objects=streams)
    assert inspect(io.BytesIO(data), "a.pdf", LIMIT)[0] == "application/pdf"


@pytest.mark.parametrize(
    "uri, accepted",
    [
        (b"https://egov.kz/", True),
        (b"HTTP://example.kz/a?b=c", True),
        (b"mailto:akimat@example.kz", True),
        (b"javascript:app.alert(1)", False),
        (b"JaVaScRiPt:x", False),
        (b" java\tscript:x", False),
        (b"file:///C:/Windows/system32/calc.exe", False),
        (b"\\\\evil\\share\\x", False),
        (b"data:text/html,x", False),
        (b"smb://evil/share", False),
        (b"relative/path.html", False),
    ],
)
def test_pdf_links_open_only_web_and_mail_addresses(uri: bytes, accepted: bool) -> None:
    link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (%s) >> >>" % uri
    data = pdf(page=b"/Annots [4 0 R]", objects=(link,))
    if accepted:
        assert inspect(io.BytesIO(data), "a.pdf", LIMIT)[0] == "application/pdf"
    else:
        assert rejection(data).code == "active_content"


# --- images ----------------------------------------------------------------------------


def test_a_large_real_scan_is_accepted() -> None:
    data = png_sized(4000, 5000)  # 20 million pixels, decoded in full
    assert inspect(io.BytesIO(data), "scan.png", LIMIT)[0] == "image/png"


@pytest.mark.parametrize("data", [png_sized(30000, 30000), jpeg_sized(60000, 60000)])
def test_image_bombs_are_refused_before_decoding(data: bytes) -> None:
    assert rejection(data, "scan.png").code == "too_complex"


def test_pixel_limit_is_a_setting() -> None:
    data = png_sized(300, 300)
    limits = CheckLimits(max_pixels=300 * 300 - 1)
    with pytest.raises(UploadRejected) as refused:
        inspect(io.BytesIO(data), "scan.png", LIMIT, limits)
    assert refused.value.code == "too_complex"
    assert inspect(io.BytesIO(data), "scan.png", LIMIT, CheckLimits(max_pixels=300 * 300))


# --- the check's budget -------------------------------------------------------------------


def test_a_check_past_the_wall_clock_limit_is_too_complex() -> None:
    # The checker process is stopped at the wall-clock limit, whatever it was doing.
    assert check_content(minimal_pdf(), "application/pdf", CheckLimits(wall_seconds=0.001)) == (
        "too_complex"
    )


# 150 million grey pixels: 150 MB and about two CPU seconds to decode (pixel limit lifted).
NO_PIXEL_LIMIT = 10**9


def test_a_check_past_the_memory_limit_is_too_complex() -> None:
    limits = CheckLimits(memory_mb=100, wall_seconds=30, max_pixels=NO_PIXEL_LIMIT)
    heavy = png_sized(12_000, 12_500, complete=True)
    assert check_content(heavy, "image/png", limits) == "too_complex"
    assert check_content(minimal_pdf(), "application/pdf", limits) == "ok"


def test_a_check_past_the_cpu_limit_is_too_complex() -> None:
    # 400 million pixels take several CPU seconds to decode; memory is no limit here.
    heavier = png_sized(20_000, 20_000, complete=True)
    limits = CheckLimits(cpu_seconds=1, memory_mb=4096, wall_seconds=60, max_pixels=NO_PIXEL_LIMIT)
    assert check_content(heavier, "image/png", limits) == "too_complex"


@settings(max_examples=25, deadline=None)  # each PDF or image starts a checker process
@given(st.binary(max_size=2000))
def test_inspect_only_raises_upload_rejected(data: bytes) -> None:
    for blob in (data, b"%PDF-1.7\n" + data, tiny_png() + data):
        try:
            mime, size, digest = inspect(io.BytesIO(blob), "a.pdf", 1500)
        except UploadRejected as error:
            assert error.code in {
                "empty",
                "too_large",
                "bad_type",
                "active_content",
                "unreadable",
                "too_complex",
            }
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
