"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of what the API sends and accepts."""

from __future__ import annotations

from portal import limits
from portal.lifecycle import STAFF_ACTIONS, TRANSITIONS
from portal.models import OPEN_STATE_VALUES, State, WaitingPolicy


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
DATETIME = {"type": "string", "format": "date-time"}


def obj(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def page_of(item: dict) -> dict:
    return obj(
        {
            "items": {"type": "array", "items": item},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 0},
        }
    )


PAGE_PARAMETERS = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
    },
    {
        "name": "per_page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
]

# The queue's filters: the same as the queue pages' (a service by its code here).
QUEUE_PARAMETERS = [
    {
        "name": "state",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(OPEN_STATE_VALUES)},
    },
    {"name": "service", "in": "query", "required": False, "schema": {"type": "string"}},
    {
        "name": "sla",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["on_track", "at_risk", "breached", "paused"]},
    },
    {
        "name": "order",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["time_left", "-time_left"], "default": "time_left"},
    },
]

STAFF_API_ACTIONS = [*STAFF_ACTIONS, "return_to_review"]

COMPONENTS: dict[str, dict] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": STRING,
                    "message": STRING,
                    "fields": {"type": "object", "additionalProperties": STRING},
                }
            )
        }
    ),
    "Department": obj({"code": STRING, "name": STRING}),
    "Person": obj({"id": INTEGER, "name": STRING}),
    "DocumentType": obj({"id": INTEGER, "code": STRING, "name": STRING}),
    "RequiredDocument": obj(
        {
            "id": INTEGER,
            "code": STRING,
            "name": STRING,
            "field": {"type": "string", "description": "The multipart field for its file"},
        }
    ),
    "Me": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "email": STRING,
            "role": STRING,
            "department": nullable(ref("Department")),
        }
    ),
    "Service": obj(
        {
            "code": STRING,
            "title": STRING,
            "description": STRING,
            "department": ref("Department"),
            "target_days": {"type": "integer", "description": "Target in working days"},
            "intake_days": nullable(INTEGER),
            "approval_days": nullable(INTEGER),
            "reply_days": INTEGER,
            "waiting_policy": {"type": "string", "enum": [str(p) for p in WaitingPolicy]},
            "required_documents": {"type": "array", "items": ref("RequiredDocument")},
        }
    ),
    "TimeLeft": obj(
        {
            "working_seconds": nullable(INTEGER),
            "paused": {"type": "boolean"},
            "text": STRING,
        }
    ),
    "RequestSummary": obj(
        {
            "reference": STRING,
            "service": obj({"code": STRING, "title": STRING}),
            "department": ref("Department"),
            "state": {"type": "string", "enum": [str(s) for s in State]},
            "state_label": STRING,
            "sla_state": STRING,
            "submitted_at": DATETIME,
            "updated_at": DATETIME,
            "due_at": nullable(DATETIME),
            "time_left": ref("TimeLeft"),
            "accountable_employee": nullable(ref("Person")),
        }
    ),
    "DocumentRequest": obj(
        {
            "id": INTEGER,
            "asked_at": DATETIME,
            "reply_by": nullable(DATETIME),
            "reason": nullable(STRING),
            "items": {
                "type": "array",
                "items": obj(
                    {"document_type": ref("DocumentType"), "field": STRING, "reason": STRING}
                ),
            },
        }
    ),
    "Document": obj(
        {
            "id": INTEGER,
            "document_type": ref("DocumentType"),
            "name": STRING,
            "content_type": STRING,
            "size": INTEGER,
            "uploaded_at": DATETIME,
        }
    ),
    # A rung of the escalation ladder, and who was accountable when it fired (staff only).
    "Escalation": obj(
        {
            "level": {
                "type": "string",
                "enum": ["at_risk", "head", "supervisor", "intake", "approval"],
            },
            "fired_at": DATETIME,
            "due_at": DATETIME,
            "accountable_employee": nullable(ref("Person")),
            "acknowledged_at": nullable(DATETIME),
        }
    ),
    "Event": obj(
        {
            "at": DATETIME,
            "kind": STRING,
            "text": STRING,
            "from_state": nullable(STRING),
            "to_state": nullable(STRING),
            "actor": nullable(STRING),
            "reason": nullable(STRING),
        }
    ),
}

COMPONENTS["RequestDetail"] = {
    "allOf": [
        ref("RequestSummary"),
        obj(
            {
                "description": STRING,
                "decided_at": nullable(DATETIME),
                "decision_reason": nullable(STRING),
                "waiting_policy": {"type": "string", "enum": [str(p) for p in WaitingPolicy]},
                "open_document_request": nullable(ref("DocumentRequest")),
                "documents": {"type": "array", "items": ref("Document")},
                "timeline": {"type": "array", "items": ref("Event")},
                "allowed_actions": {
                    "type": "array",
                    "items": {"type": "string", "enum": sorted(TRANSITIONS)},
                },
                "escalations": {
                    "type": "array",
                    "items": ref("Escalation"),
                    "description": "Staff, heads and supervisors only; oldest first.",
                },
            },
            required=[
                "description",
                "decided_at",
                "decision_reason",
                "waiting_policy",
                "open_document_request",
                "documents",
                "timeline",
                "allowed_actions",
            ],
        ),
    ]
}

FILE = {"type": "string", "format": "binary"}

SUBMIT_BODY = {
    "type": "object",
    "properties": {
        "service_code": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1, "maxLength": limits.DESCRIPTION},
        "carry_from": {
            "type": "string",
            "description": "Reference of a request refused as incomplete to take documents from",
        },
    },
    "required": ["service_code", "description"],
    "patternProperties": {"^doc_[0-9]+$": FILE},
    "description": (
        "One file per required document, in the field `doc_<document type id>` "
        "(see `required_documents[].field` of the service). PDF, JPEG or PNG."
    ),
}

ANSWER_BODY = {
    "type": "object",
    "properties": {},
    "patternProperties": {"^doc_[0-9]+$": FILE},
    "description": "One file per item of the open document request, in its `field`.",
}

WITHDRAW_BODY = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": limits.WITHDRAW_REASON}},
}

ACTION_BODY = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": STAFF_API_ACTIONS},
        "reason": {
            "type": "string",
            "maxLength": limits.DECISION_REASON,
            "description": "Needed to reject or return to review",
        },
        "note": {"type": "string", "maxLength": limits.NOTE},
        "items": {
            "type": "array",
            "description": "For request_documents: what is missing and why",
            "items": obj(
                {
                    "document_type": {"type": "string", "description": "Document type code"},
                    "reason": {"type": "string", "maxLength": limits.DOCUMENT_REASON},
                }
            ),
        },
    },
    "required": ["action"],
}
