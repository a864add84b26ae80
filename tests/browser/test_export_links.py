"""The boards' download links, as an office worker meets them at a desk and on a phone: both
formats offered under each board, and the Excel link gives a workbook that opens."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from tests.browser.test_accessibility import PASSWORD, city, in_language  # noqa: F401

ARTIFACTS = Path(__file__).parent / "artifacts"
BOARDS = {
    "employee": ["/staff/queue", "/staff/department"],
    "head": ["/staff/team"],
    "supervisor": [
        "/supervisor/breaches",
        "/supervisor/trends",
        "/supervisor/cycles",
        "/supervisor/requests",
        "/board",
    ],
    "admin": ["/admin/people", "/admin/outbox"],
}
WITHOUT_DOWNLOADS = {"/supervisor/requests", "/admin/people"}  # pages with the pager only


def test_every_board_offers_excel_and_csv_at_desk_and_phone_widths(city, new_page, tmp_path):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    for who, paths in BOARDS.items():
        page = new_page()
        in_language(page, "ru")
        log_in_ru(page, getattr(city, who))
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for path in paths:
                assert page.goto(path).status == 200, path
                name = path.strip("/").replace("/", "-")
                page.screenshot(path=str(ARTIFACTS / f"export-{name}-{width}.png"), full_page=True)
                if path in WITHOUT_DOWNLOADS:
                    continue
                excel = page.get_by_role("link", name="Excel (XLSX)")
                box = excel.bounding_box()
                assert box and box["x"] + box["width"] <= width, (path, width, box)
                assert page.get_by_role("link", name="CSV", exact=True).is_visible(), path
    page = new_page()
    in_language(page, "kk")
    log_in_ru(page, city.supervisor)
    page.goto("/supervisor/breaches")
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "breaches.xlsx"
    rows = list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "Өтінім нөмірі" and rows[1][0] == city.breached


def log_in_ru(page, email: str) -> None:
    """Log in whatever the page's language (the fields by name, the button by type)."""
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("main").locator("button[type=submit]").click()
    page.wait_for_load_state()
