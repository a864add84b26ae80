"""The boards: queues, team and breach boards, trends, 12-week cycles, the public board.

Plain functions over the ORM, one module per board; the names are gathered here for the
callers that want the whole set (the API's serializers, tests, benchmarks). The boards
named like their module (`team`, `cycles`) are read from it: `boards.team.team(...)`.
"""

from portal.pagination import PAGE_SIZE, Page
from portal.services.boards.common import COMPLETED, OPEN
from portal.services.boards.cycles import CYCLE_WEEKS, Cycle, current_cycle, cycle
from portal.services.boards.figures import Figures, cycle_report, trends
from portal.services.boards.public import PUBLIC_WEEKS, public_board, public_figures
from portal.services.boards.staff import (
    SLA_FILTERS,
    QueueFilters,
    department_services,
    staff_queue,
)
from portal.services.boards.supervisor import (
    BreachFilters,
    breaches,
    escalation_history,
)
from portal.services.boards.team import (
    PENDING_COUNTED,
    PersonRow,
    department_open_requests,
    pending_escalations,
    people,
)

__all__ = [
    "COMPLETED",
    "CYCLE_WEEKS",
    "OPEN",
    "PAGE_SIZE",
    "PENDING_COUNTED",
    "PUBLIC_WEEKS",
    "SLA_FILTERS",
    "BreachFilters",
    "Cycle",
    "Figures",
    "Page",
    "PersonRow",
    "QueueFilters",
    "breaches",
    "current_cycle",
    "cycle",
    "cycle_report",
    "department_open_requests",
    "department_services",
    "escalation_history",
    "pending_escalations",
    "people",
    "public_board",
    "public_figures",
    "staff_queue",
    "trends",
]
