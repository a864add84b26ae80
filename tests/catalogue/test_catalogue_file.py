"""The catalogue as one file: an administration's registry exported, imported, re-imported."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CatalogueChange, Department, DocumentType, Role, Service
from portal.seed import CATALOGUE_FILE
from tests.conftest import _empty_tables


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def write(tmp_path, text: str, name="catalogue.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def import_file(runner, path, *options):
    return runner.invoke(args=["catalogue", "import", path, *options])


def export(runner) -> str:
    result = runner.invoke(args=["catalogue", "export"])
    assert result.exit_code == 0, result.output
    return result.output


GOOD = """\
version: 1
departments:
- code: TRD
  name: {ru: Отдел торговли, kk: Сауда бөлімі, en: Department of Trade}
document_types:
- code: passport
  name: {ru: Паспорт, kk: Төлқұжат, en: Passport}
  formats: [pdf]
  max_size_mb: 2
  multiple_files: true
  note: {ru: Разворот с фото, kk: Суреті бар беті, en: The photo page}
- code: lease
  name: {ru: Договор аренды, kk: Жалдау шарты, en: Lease}
services:
- code: kiosk
  department: TRD
  title: {ru: Киоск, kk: Дүңгіршек, en: Kiosk}
  description: {ru: Размещение киоска, kk: Дүңгіршек орналастыру, en: Placing a kiosk}
  applicants: business
  fee_tenge: 3690
  result_form: permit
  target_days: 5
  required_documents: [passport]
  optional_documents: [lease]
  approvers: [head, department:TRD]
"""


def test_export_then_import_into_an_empty_database_gives_the_same_file(app, runner, tmp_path):
    path = write(tmp_path, CATALOGUE_FILE.read_text(encoding="utf-8"))
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert count(Service) == 11 and count(Department) == 5 and count(DocumentType) == 14
    first = export(runner)
    assert "tax_clearance" in first and "Выдана не ранее чем за 30 дней" in first

    _empty_tables()
    assert count(Service) == 0
    result = import_file(runner, write(tmp_path, first, "exported.yaml"))
    assert result.exit_code == 0, result.output
    assert export(runner) == first


def test_reimporting_the_same_file_changes_nothing(app, runner, tmp_path):
    path = write(tmp_path, GOOD)
    first = import_file(runner, path)
    assert first.exit_code == 0, first.output
    assert "service kiosk: created" in first.output
    kiosk = db.session.scalar(sa.select(Service).where(Service.code == "kiosk"))
    assert kiosk.applicants == "business" and kiosk.fee_tenge == 3690
    assert [d.code for d in kiosk.optional_documents] == ["lease"]
    assert [a.role or a.department.code for a in kiosk.approvers] == ["head", "TRD"]
    audited = count(CatalogueChange)
    assert audited == 4  # a department, two document types, a service

    again = import_file(runner, path)
    assert again.exit_code == 0, again.output
    assert "0 change(s), 4 unchanged" in again.output
    assert count(CatalogueChange) == audited


def test_dry_run_prints_what_would_change_and_writes_nothing(app, runner, tmp_path):
    assert import_file(runner, write(tmp_path, GOOD)).exit_code == 0
    changed = GOOD.replace("target_days: 5", "target_days: 8").replace(
        "Отдел торговли", "Управление торговли"
    )
    result = import_file(runner, write(tmp_path, changed, "changed.yaml"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "service kiosk: updated (target_days 5 -> 8)" in result.output
    assert "department TRD: updated (name" in result.output
    assert "dry run: nothing was written" in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(Service.target_days).where(Service.code == "kiosk")) == 5
    assert count(CatalogueChange) == 4


def _refused(runner, tmp_path, text: str):
    before = {m.__name__: count(m) for m in (Department, DocumentType, Service, CatalogueChange)}
    result = import_file(runner, write(tmp_path, text, "bad.yaml"))
    assert result.exit_code != 0
    assert "nothing was imported" in result.output
    db.session.expire_all()
    after = {m.__name__: count(m) for m in (Department, DocumentType, Service, CatalogueChange)}
    assert after == before
    return result.output


def line_of(text: str, fragment: str) -> int:
    return text.splitlines().index(fragment) + 1


def test_an_unknown_document_type_is_refused_whole_naming_its_line(app, runner, tmp_path):
    bad = GOOD.replace("required_documents: [passport]", "required_documents:\n  - pasport")
    output = _refused(runner, tmp_path, bad)
    assert f"line {line_of(bad, '  - pasport')}: services[0].required_documents[0]" in output
    # The department and the document types before the service were not written either.
    assert count(Department) == 0 and count(DocumentType) == 0


def test_a_bad_target_is_refused_naming_its_line(app, runner, tmp_path):
    bad = GOOD.replace("target_days: 5", "target_days: 400")
    output = _refused(runner, tmp_path, bad)
    assert f"line {line_of(bad, '  target_days: 400')}: services[0].target_days" in output
    bad = GOOD.replace("target_days: 5", "target_days: five")
    output = _refused(runner, tmp_path, bad)
    assert f"line {line_of(bad, '  target_days: five')}: services[0].target_days" in output


def test_a_duplicate_code_is_refused_naming_its_line(app, runner, tmp_path):
    bad = GOOD.replace("- code: lease\n", "- code: passport\n")
    output = _refused(runner, tmp_path, bad)
    second = [i for i, t in enumerate(bad.splitlines(), 1) if t == "- code: passport"][1]
    assert f"line {second}: document_types[1].code" in output


def test_a_yaml_syntax_error_is_refused_naming_its_line(app, runner, tmp_path):
    bad = GOOD.replace("  result_form: permit", "  result_form: [permit")
    output = _refused(runner, tmp_path, bad)
    assert "not valid YAML" in output
    assert f"line {line_of(bad, '  target_days: 5')}" in output or "line 2" in output


def test_every_problem_of_a_file_is_listed_at_once(app, runner, tmp_path):
    bad = GOOD.replace("department: TRD", "department: XXX").replace(
        "applicants: business", "applicants: everyone"
    )
    output = _refused(runner, tmp_path, bad)
    assert f"line {line_of(bad, '  department: XXX')}: services[0].department" in output
    assert f"line {line_of(bad, '  applicants: everyone')}: services[0].applicants" in output


def test_a_head_is_named_by_email_and_must_be_a_head(app, runner, make, tmp_path):
    department = make.department("TRD")
    head = make.employee(department, Role.HEAD)
    staff = make.employee(department)
    with_head = GOOD.replace(
        "  name: {ru: Отдел торговли", f"  head: {head.email}\n  name: {{ru: Отдел торговли"
    )
    assert import_file(runner, write(tmp_path, with_head)).exit_code == 0
    assert "head: " + head.email in export(runner)

    not_a_head = with_head.replace(head.email, staff.email)
    output = _refused(runner, tmp_path, not_a_head)
    assert f"line {line_of(not_a_head, '  head: ' + staff.email)}: departments[0].head" in output


def test_a_file_of_the_wrong_shape_is_refused_not_crashed_on(app, runner, tmp_path):
    for bad in (
        "version: 1\nservices:\n- just a string\n",
        "version: 1\nservices: {code: x}\n",
        "- a list\n",
        "version: 2\n",
        "version: 1\nservices:\n- code: x\n  title: a title\n",
        "version: 1\nversion: 1\n",
    ):
        output = _refused(runner, tmp_path, bad)
        assert "line " in output, bad
