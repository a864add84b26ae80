"""Benchmark of the upload content check: worst case per MB, and a normal scan's throughput.

    .venv/bin/python bench/uploads.py [--runs 3]

Times `portal.uploads.inspect()` as the portal calls it (read, hash, sniff, then the
checker process under the default limits: 2 CPU seconds, 512 MB, 4 s wall) on

  * every PDF and image of the upload corpus (tests/security/corpus.py: adversarial PDFs,
    image bombs, and the odd-but-good files), and
  * the same attacks grown to the 10 MB size limit: the inputs that made the old pattern
    scanner quadratic, a 500,000-entry cross-reference table, 100,000 small objects,
    a 10 MB object stream, a nested deflate bomb, and image bombs;
  * a normal 10 MB multi-page scan (greyscale A4 pages at 200 dpi, JPEG), a 10 MB PNG
    and a 10 MB JPEG photo.

For each file: the verdict, the slowest of `--runs` checks, and that time per MB of file.
Nothing but this machine is used; no database, no network.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from portal.uploads import CheckLimits, UploadRejected, inspect  # noqa: E402
from tests.security import corpus  # noqa: E402

MB = 1024 * 1024
LIMIT = 10 * MB


def timed(data: bytes, runs: int) -> tuple[str, float]:
    verdict, slowest = "", 0.0
    for _ in range(runs):
        started = time.perf_counter()
        try:
            inspect(io.BytesIO(data), "bench.pdf", LIMIT, CheckLimits())
            verdict = "ok"
        except UploadRejected as refused:
            verdict = refused.code
        slowest = max(slowest, time.perf_counter() - started)
    return verdict, slowest


def page_image(seed: int, width: int = 1654, height: int = 2339, quality: int = 85) -> bytes:
    """A greyscale A4 page at 200 dpi: paper grain and lines of "text"."""
    rng = random.Random(seed)
    image = Image.effect_noise((width, height), 18).point(lambda v: 235 + (v - 128) // 8)
    ink = Image.new("L", (width, height), 40)
    mask = Image.new("L", (width, height), 0)
    for line in range(60):
        y = 150 + line * 34
        x = 150
        while x < width - 200:
            word = rng.randint(30, 140)
            mask.paste(255, (x, y, x + word, y + 14))
            x += word + rng.randint(12, 24)
    image.paste(ink, (0, 0), mask)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def grown_attacks() -> dict[str, bytes]:
    """The corpus's attacks at (about) the 10 MB size limit."""
    action = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    many = tuple(b"<< /N %d >>" % n for n in range(100_000))
    return {
        "pdf-quadratic-stream-keywords": corpus.pdf(tail=b"%stream\n" * 1_300_000),
        "pdf-quadratic-object-headers": corpus.pdf(tail=b"%1 0 obj stream\n" * 650_000),
        "pdf-huge-xref-table (500,000 entries)": corpus.pdf(free=500_000),
        "pdf-100,000-objects": corpus.pdf(objects=many),
        "pdf-100,000-objects-then-javascript": corpus.pdf(objects=(*many, action)),
        "pdf-objstm-100,000-objects": corpus.pdf_packed(
            {n: b"<< /N %d >>" % n for n in range(5, 100_005)}
        ),
        "pdf-objstm-deflate-bomb (1 GB)": corpus.pdf_packed(
            {5: b"<< >>"},
            filters=b"/Filter [/FlateDecode /FlateDecode /FlateDecode]",
            encode=lambda _data: corpus.deflate_bomb(1024**3, rounds=3),
        ),
        "random bytes after a PDF header": b"%PDF-1.7\n" + random.randbytes(10 * MB - 9),
        "png-bomb-30000-square": corpus.png_sized(30000, 30000),
        "png 7000x7000 (49 MP, under the limit)": corpus.png_sized(7000, 7000),
        "jpeg-bomb-65000-square": corpus.jpeg_sized(65000, 65000),
    }


def normal_files() -> dict[str, bytes]:
    pages, size = [], 0
    while size < 10 * MB - 400_000:
        pages.append(page_image(len(pages)))
        size += len(pages[-1])
    scan = corpus.scan(images=pages)
    photo = io.BytesIO()
    Image.effect_noise((3000, 2200), 60).convert("RGB").save(photo, "JPEG", quality=95)
    png = io.BytesIO()
    Image.effect_noise((2400, 2200), 40).save(png, "PNG")
    return {
        f"scan, {len(pages)} pages (200 dpi JPEG)": scan,
        "JPEG photo 3000x2200 q95": photo.getvalue(),
        "PNG 2400x2200 noise": png.getvalue(),
    }


def row(name: str, data: bytes, runs: int) -> tuple[str, int, str, float, float]:
    verdict, seconds = timed(data, runs)
    megabytes = len(data) / MB
    return name, len(data), verdict, seconds, seconds / megabytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    random.seed(12)
    checked = {"application/pdf", "image/png", "image/jpeg"}
    cases = {c.id: c.data for c in corpus.BAD if c.code not in ("bad_name", "too_large")}
    cases = {k: v for k, v in cases.items() if v and corpus_mime(v) in checked}
    cases.update(corpus.GOOD)

    print(f"runs per file: {args.runs}; limits: {CheckLimits()}")
    print("\n## corpus (each file <= 100 KB)\n")
    results = [row(name, data, args.runs) for name, data in cases.items()]
    table(results)
    slowest = max(results, key=lambda r: r[3])
    print(f"\nworst time: {slowest[0]} {slowest[3]:.3f} s")

    print("\n## attacks at the 10 MB size limit\n")
    grown = [row(name, data, args.runs) for name, data in grown_attacks().items()]
    table(grown)
    # Per MB means something for files of a megabyte or more; below that the checker
    # process's start-up (a fixed cost) dominates.
    worst = max((r for r in grown if r[1] >= MB), key=lambda r: r[4])
    slowest = max(grown, key=lambda r: r[3])
    print(f"\nworst per MB (files >= 1 MB): {worst[0]} {worst[4]:.3f} s/MB")
    print(f"slowest of all: {slowest[0]} {slowest[3]:.2f} s")

    print("\n## normal files\n")
    normal = [row(name, data, args.runs) for name, data in normal_files().items()]
    table(normal, throughput=True)


def corpus_mime(data: bytes) -> str | None:
    from portal.uploads import sniff

    return sniff(data[:8192])


def table(results, throughput: bool = False) -> None:
    extra = " MB/s |" if throughput else ""
    print("| file | bytes | verdict | slowest check | per MB |" + extra)
    print("| --- | ---: | --- | ---: | ---: |" + (" ---: |" if throughput else ""))
    for name, size, verdict, seconds, per_mb in results:
        line = f"| {name} | {size:,} | {verdict} | {seconds:.3f} s | {per_mb:.3f} s |"
        if throughput:
            line += f" {size / MB / seconds:.1f} |"
        print(line)


if __name__ == "__main__":
    main()
