"""The catalogue as one YAML file: `flask catalogue export` and `flask catalogue import`.

The file holds the whole catalogue, keyed by codes: departments (their head by email),
document types and services. Importing is all or nothing: the file is parsed, checked
against the schema and against itself and the database, and only when nothing is wrong
is anything written, in one transaction. Every problem names its line in the file.
Importing the same file twice changes nothing the second time. What the database has and
the file does not mention is left as it is (a file never deletes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jsonschema
import sqlalchemy as sa
import yaml
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import FILE_FORMATS, Department, DocumentType, Service
from portal.services import catalogue
from portal.services.catalogue import Change, Known

VERSION = 1
HEADER = (
    "# The Moldir catalogue: departments, document types and services.\n"
    "# Load it with `flask catalogue import FILE` (add --dry-run to see what would change).\n"
)

_TEXTS = {
    "type": "object",
    "properties": {lang: {"type": "string"} for lang in catalogue.LANGUAGES},
    "required": list(catalogue.LANGUAGES),
    "additionalProperties": False,
}
_OPTIONAL_TEXTS = {"anyOf": [{"type": "null"}, _TEXTS]}
_CODE = {"type": "string", "minLength": 1}
_DAYS = {"anyOf": [{"type": "null"}, {"type": "integer"}]}

SCHEMA = {
    "type": "object",
    "properties": {
        "version": {"const": VERSION},
        "departments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": _CODE,
                    "name": _TEXTS,
                    "head": {"type": ["string", "null"]},
                    "active": {"type": "boolean"},
                },
                "required": ["code", "name"],
                "additionalProperties": False,
            },
        },
        "document_types": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": _CODE,
                    "name": _TEXTS,
                    "note": _OPTIONAL_TEXTS,
                    "formats": {
                        "type": "array",
                        "items": {"enum": list(FILE_FORMATS)},
                        "minItems": 1,
                    },
                    "max_size_mb": _DAYS,
                    "multiple_files": {"type": "boolean"},
                    "active": {"type": "boolean"},
                },
                "required": ["code", "name"],
                "additionalProperties": False,
            },
        },
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": _CODE,
                    "department": _CODE,
                    "title": _TEXTS,
                    "description": _TEXTS,
                    "applicants": {"enum": ["business", "citizen", "both"]},
                    "fee_tenge": _DAYS,
                    "result_form": {"enum": ["permit", "licence", "certificate", "letter"]},
                    "legal_basis": _OPTIONAL_TEXTS,
                    "target_days": {"type": "integer"},
                    "intake_days": _DAYS,
                    "approval_days": _DAYS,
                    "waiting_policy": {"enum": ["pause", "run", "restart"]},
                    "at_risk_percent": {"type": "integer"},
                    "warn_at_risk": {"type": "boolean"},
                    "escalate_to_head": {"type": "boolean"},
                    "supervisor_after_days": _DAYS,
                    "reply_days": {"type": "integer"},
                    "reminder_days": {"type": "array", "items": {"type": "integer"}},
                    "approvers": {"type": "array", "items": {"type": "string"}},
                    "silence_is_consent": {"type": "boolean"},
                    "required_documents": {"type": "array", "items": {"type": "string"}},
                    "optional_documents": {"type": "array", "items": {"type": "string"}},
                    "active": {"type": "boolean"},
                },
                "required": ["code", "department", "title", "description", "target_days"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["version"],
    "additionalProperties": False,
}

# What a service gets for what the file leaves out (the same as the admin's new service).
SERVICE_DEFAULTS = {
    "applicants": "both",
    "fee_tenge": None,
    "result_form": "letter",
    "legal_basis": None,
    "intake_days": 2,
    "approval_days": None,
    "waiting_policy": "pause",
    "at_risk_percent": 75,
    "warn_at_risk": True,
    "escalate_to_head": True,
    "supervisor_after_days": 3,
    "reply_days": 10,
    "reminder_days": [2, 4, 6],
    "approvers": [],
    "silence_is_consent": False,
    "required_documents": [],
    "optional_documents": [],
    "active": True,
}
DOCUMENT_TYPE_DEFAULTS = {
    "note": None,
    "formats": list(FILE_FORMATS),
    "max_size_mb": None,
    "multiple_files": False,
    "active": True,
}
DEPARTMENT_DEFAULTS = {"head": None, "active": True}
SECTIONS = (
    ("departments", "department", DEPARTMENT_DEFAULTS, catalogue.check_department),
    ("document_types", "document_type", DOCUMENT_TYPE_DEFAULTS, catalogue.check_document_type),
    ("services", "service", SERVICE_DEFAULTS, catalogue.check_service),
)


# --- export ----------------------------------------------------------------------------


def export_text() -> str:
    """The whole catalogue as YAML, in code order: the same database gives the same text."""
    document = {
        "version": VERSION,
        "departments": [
            catalogue.spec_of_department(d)
            for d in db.session.scalars(sa.select(Department).order_by(Department.code))
        ],
        "document_types": [
            catalogue.spec_of_document_type(t)
            for t in db.session.scalars(sa.select(DocumentType).order_by(DocumentType.code))
        ],
        "services": [
            catalogue.spec_of_service(s)
            for s in db.session.scalars(sa.select(Service).order_by(Service.code))
        ],
    }
    body = yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    return HEADER + body


# --- import ----------------------------------------------------------------------------


class CatalogueFileError(Exception):
    """The file was refused, whole; `problems` are (line, where, message), line 1-based."""

    def __init__(self, problems: list[tuple[int | None, str, str]]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems

    def lines(self) -> list[str]:
        return [
            f"line {line}: {where}: {message}" if line else f"{where}: {message}"
            for line, where, message in self.problems
        ]


@dataclass
class Plan:
    """What importing a file does: every entity's change, and the open deadlines moved."""

    changes: list[Change] = field(default_factory=list)
    shifts: dict[str, object] = field(default_factory=dict)  # service code -> Shift
    queued: bool = True  # the recompute of moved deadlines was queued

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]

    def summary(self) -> list[str]:
        lines = []
        for change in self.changes:
            label = f"{change.entity} {change.code}: {change.action}"
            if change.action in ("updated", "retired", "restored"):
                fields = ", ".join(
                    f"{name} {_short(old)} -> {_short(new)}"
                    for name, (old, new) in change.fields.items()
                )
                label += f" ({fields})"
            shift = self.shifts.get(change.code) if change.entity == "service" else None
            if shift is not None and shift.moved:
                label += (
                    f"; moves {shift.moved} open deadline(s), largest shift "
                    f"{shift.largest_days:+d} working days"
                )
            lines.append(label)
        unchanged = len(self.changes) - len(self.changed)
        lines.append(f"{len(self.changed)} change(s), {unchanged} unchanged")
        return lines


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


class _Lines:
    """Where each value of the YAML document starts: path -> line (1-based)."""

    def __init__(self, root: yaml.Node | None):
        self.lines: dict[tuple, int] = {}
        self.duplicates: list[tuple[tuple, int]] = []
        self.refused: set[tuple] = set()  # (section, index[, key]) the schema refused
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                name = key.value
                if name in seen:
                    self.duplicates.append((path + (name,), key.start_mark.line + 1))
                seen.add(name)
                self._walk(value, path + (name,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, path + (index,))

    def of(self, path: tuple) -> int | None:
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


def parse(text: str) -> tuple[dict, _Lines, list]:
    """The file's content and its lines; raises CatalogueFileError on YAML or schema errors."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        content = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise CatalogueFileError([(line, "(file)", f"not valid YAML: {problem}")]) from None
    lines = _Lines(root)
    problems = [
        (line, _where(path), str(_l("This key appears twice."))) for path, line in lines.duplicates
    ]
    if not isinstance(content, dict):
        raise CatalogueFileError([(1, "(file)", "the file must be a mapping with `version:`")])
    validator = jsonschema.Draft202012Validator(SCHEMA)
    schema_errors = list(validator.iter_errors(content))
    for error in schema_errors:
        problems.append((lines.of(error.absolute_path), _where(error.absolute_path), error.message))
    # A value the schema refused is not checked further; the rest is, so that one run
    # lists every problem of the file.
    lines.refused = {tuple(error.absolute_path)[:3] for error in schema_errors}
    if any(len(path) < 2 for path in lines.refused):
        raise CatalogueFileError(sorted(problems, key=_order))
    return content, lines, problems


def _order(problem) -> tuple:
    return (problem[0] or 0, problem[1])


def _specs(content: dict) -> dict[str, list[dict]]:
    return {
        section: [
            {**defaults, **item} if isinstance(item, dict) else {}
            for item in content.get(section) or []
        ]
        for section, _kind, defaults, _check in SECTIONS
    }


def _check(specs: dict[str, list[dict]], lines: _Lines) -> list[tuple[int | None, str, str]]:
    """What is wrong with the entries (those the schema let through) and between them."""
    known = Known.from_database()
    known.departments |= {d.get("code") for d in specs["departments"]}
    known.document_types |= {t.get("code") for t in specs["document_types"]}
    problems = []
    for section, _kind, _defaults, check in SECTIONS:
        seen: set[str] = set()
        for index, spec in enumerate(specs[section]):
            base = (section, index)
            if base in lines.refused:  # not even a mapping with a code
                continue
            if spec["code"] in seen:
                path = base + ("code",)
                problems.append((lines.of(path), _where(path), str(_l("This code appears twice."))))
            seen.add(spec["code"])
            try:
                found = check(spec, known)
            except (AttributeError, TypeError):  # a shape the schema refused already
                found = []
            for problem in found:
                path = base + problem.path
                if path[:3] in lines.refused:
                    continue
                problems.append((lines.of(path), _where(path), str(problem)))
    return problems


def _shifts(specs: dict[str, list[dict]]) -> dict:
    """For each existing service whose target changes: how its open deadlines would move."""
    from sla import deadlines, recompute

    shifts = {}
    for spec in specs["services"]:
        service = db.session.scalar(sa.select(Service).where(Service.code == spec["code"]))
        if service is not None and service.target_days != spec["target_days"]:
            shifts[spec["code"]] = recompute.preview(
                deadlines.calendar(), service.id, spec["target_days"]
            )
    return shifts


def load(text: str, actor=None, dry_run: bool = False) -> Plan:
    """Import a catalogue file: all of it, or (on any problem) nothing.

    With `dry_run` the changes are worked out and rolled back. Raises CatalogueFileError.
    """
    content, lines, problems = parse(text)
    specs = _specs(content)
    problems += _check(specs, lines)
    if problems:
        raise CatalogueFileError(sorted(problems, key=_order))
    plan = Plan(shifts=_shifts(specs))
    appliers = {
        "department": catalogue.apply_department,
        "document_type": catalogue.apply_document_type,
        "service": catalogue.apply_service,
    }
    try:
        for section, kind, _defaults, _check_one in SECTIONS:
            for spec in specs[section]:
                plan.changes.append(appliers[kind](actor, spec, "file"))
        if dry_run:
            db.session.rollback()
            return plan
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    for change in plan.changes:
        catalogue._logged(actor, change, "file")
    plan.queued = catalogue.recompute_after(actor, plan.changes).queued
    return plan
