"""Demo data: `flask --app wsgi seed`.

Seeds an empty database once: five departments, their services and people, three applicants
and about fifty requests whose history goes back some thirty days from now. The history is
written through the request services with the clock moved back (`sla.clock.travel`), so
events, assignment, deadlines and pauses are exactly what the portal would have produced.
Choices come from `random.Random(2026)`: the same story every time, told relative to today.

Running it again changes nothing (it stops as soon as any department exists). To start
over: drop the database, `flask --app wsgi db upgrade`, `flask --app wsgi seed`.

Demo logins, all with the password `demo-password-2026`:

| email                     | role       | who                                       |
| ------------------------- | ---------- | ----------------------------------------- |
| admin@moldir.kz           | admin      | Арман Утегенов                            |
| deputy@moldir.kz          | supervisor | Бахыт Оспанов, deputy akim                |
| head.ent@moldir.kz        | head       | Ерлан Жумабеков, entrepreneurship (ENT)   |
| aigerim.staff@moldir.kz   | staff      | Айгерим Сейткалиева, ENT                  |
| daniyar.staff@moldir.kz   | staff      | Данияр Омаров, ENT                        |
| elena.staff@moldir.kz     | staff      | Елена Ковалёва, ENT                       |
| head.agr@moldir.kz        | head       | Серик Байжанов, agriculture (AGR)         |
| asel.staff@moldir.kz      | staff      | Асель Нурмаганбетова, AGR                 |
| baurzhan.staff@moldir.kz  | staff      | Бауыржан Тулегенов, AGR                   |
| head.arc@moldir.kz        | head       | Марат Искаков, construction (ARC)         |
| dina.staff@moldir.kz      | staff      | Дина Ахметова, ARC                        |
| nurlan.staff@moldir.kz    | staff      | Нурлан Касымов, ARC                       |
| aliya.staff@moldir.kz     | staff      | Алия Жаксыбекова, ARC                     |
| andrey.staff@moldir.kz    | staff      | Андрей Ким, ARC                           |
| head.lnd@moldir.kz        | head       | Гульнара Абдрахманова, land (LND)         |
| zhanar.staff@moldir.kz    | staff      | Жанар Мусина, LND                         |
| yerzhan.staff@moldir.kz   | staff      | Ержан Сулейменов, LND                     |
| madina.staff@moldir.kz    | staff      | Мадина Есенова, LND                       |
| head.mob@moldir.kz        | head       | Тимур Бекмухамбетов, urban mobility (MOB) |
| aidana.staff@moldir.kz    | staff      | Айдана Кенжебаева, MOB                    |
| ruslan.staff@moldir.kz    | staff      | Руслан Абенов, MOB                        |
| owner@dala-agro.kz        | applicant  | Канат Ермеков, ТОО «Дала Агро» (BIN)      |
| director@tulpar-stroy.kz  | applicant  | Асхат Нургалиев, ТОО «Тулпар Строй» (BIN) |
| saule.karimova@mail.kz    | applicant  | Сауле Каримова, citizen (IIN)             |
| buhgalter@dala-agro.kz    | applicant  | Гульмира Сапарова, accountant of Дала Агро |
| agronom@dala-agro.kz      | applicant  | Ерлан Абдиев, asks to join Дала Агро      |
"""

from __future__ import annotations

import io
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from werkzeug.datastructures import FileStorage

from portal import identifiers
from portal.extensions import db
from portal.models import (
    OPEN_STATE_VALUES,
    ApprovalStep,
    Business,
    Department,
    Document,
    DocumentRequest,
    DocumentType,
    Escalation,
    Event,
    Role,
    Service,
    ServiceRequest,
    User,
)
from portal.services import accounts, approvals, businesses, catalogue_file
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla import clock, deadlines, sweep

PASSWORD = "demo-password-2026"  # noqa: S105 - the published demo password
RANDOM_SEED = 2026
HISTORY_WORKING_DAYS = 21  # about thirty calendar days

# --- the catalogue ----------------------------------------------------------------------
# Five departments, their document types and services: portal/seed_catalogue.yaml, loaded
# through `flask catalogue import`'s own path, as an administration's real registry is.

CATALOGUE_FILE = Path(__file__).with_name("seed_catalogue.yaml")

# --- the people -------------------------------------------------------------------------

EMPLOYEES = (
    # department (None: city-wide), role, email, full name, locale
    (None, Role.ADMIN, "admin@moldir.kz", "Арман Утегенов", "ru"),
    (None, Role.SUPERVISOR, "deputy@moldir.kz", "Бахыт Оспанов", "ru"),
    ("ENT", Role.HEAD, "head.ent@moldir.kz", "Ерлан Жумабеков", "ru"),
    ("ENT", Role.STAFF, "aigerim.staff@moldir.kz", "Айгерим Сейткалиева", "kk"),
    ("ENT", Role.STAFF, "daniyar.staff@moldir.kz", "Данияр Омаров", "ru"),
    ("ENT", Role.STAFF, "elena.staff@moldir.kz", "Елена Ковалёва", "ru"),
    ("AGR", Role.HEAD, "head.agr@moldir.kz", "Серик Байжанов", "kk"),
    ("AGR", Role.STAFF, "asel.staff@moldir.kz", "Асель Нурмаганбетова", "kk"),
    ("AGR", Role.STAFF, "baurzhan.staff@moldir.kz", "Бауыржан Тулегенов", "ru"),
    ("ARC", Role.HEAD, "head.arc@moldir.kz", "Марат Искаков", "ru"),
    ("ARC", Role.STAFF, "dina.staff@moldir.kz", "Дина Ахметова", "ru"),
    ("ARC", Role.STAFF, "nurlan.staff@moldir.kz", "Нурлан Касымов", "kk"),
    ("ARC", Role.STAFF, "aliya.staff@moldir.kz", "Алия Жаксыбекова", "ru"),
    ("ARC", Role.STAFF, "andrey.staff@moldir.kz", "Андрей Ким", "ru"),
    ("LND", Role.HEAD, "head.lnd@moldir.kz", "Гульнара Абдрахманова", "ru"),
    ("LND", Role.STAFF, "zhanar.staff@moldir.kz", "Жанар Мусина", "kk"),
    ("LND", Role.STAFF, "yerzhan.staff@moldir.kz", "Ержан Сулейменов", "ru"),
    ("LND", Role.STAFF, "madina.staff@moldir.kz", "Мадина Есенова", "ru"),
    ("MOB", Role.HEAD, "head.mob@moldir.kz", "Тимур Бекмухамбетов", "ru"),
    ("MOB", Role.STAFF, "aidana.staff@moldir.kz", "Айдана Кенжебаева", "kk"),
    ("MOB", Role.STAFF, "ruslan.staff@moldir.kz", "Руслан Абенов", "ru"),
)

APPLICANTS = (
    # key, email, full name, kind, first 11 digits of the BIN/IIN, company name, locale
    (
        "dala",
        "owner@dala-agro.kz",
        "Канат Ермеков",
        "company",
        "15034001234",  # registered March 2015, resident legal entity, head office
        "ТОО «Дала Агро»",
        "kk",
    ),
    (
        "tulpar",
        "director@tulpar-stroy.kz",
        "Асхат Нургалиев",
        "company",
        "18114000567",
        "ТОО «Тулпар Строй»",
        "ru",
    ),
    (
        "saule",
        "saule.karimova@mail.kz",
        "Сауле Каримова",
        "citizen",
        "85061440123",  # born 14 June 1985, woman, 20th century
        None,
        "ru",
    ),
)

# --- what they ask for, and what is said back -------------------------------------------

REQUEST_TEXTS = {
    # service: (applicant, what the applicant writes), picked at random
    "outdoor_advertising": (
        (
            "tulpar",
            "Крышная конструкция с объёмными буквами «Тулпар Строй» на офисном здании "
            "по ул. Сатпаева, 18.",
        ),
        (
            "tulpar",
            "Баннер 3×12 м на ограждении строительной площадки по ул. Жандосова, 140, "
            "на время строительства (6 месяцев).",
        ),
        ("dala", "Светодиодный экран 3×6 м на фасаде фирменного магазина по пр. Абая, 52."),
    ),
    "business_roadmap": (
        (
            "dala",
            "Кредит АО «Банк ЦентрКредит» на 120 млн тенге на линию переработки молока, "
            "просим субсидировать ставку вознаграждения.",
        ),
        (
            "dala",
            "Несие сүт өнімдерін қаптайтын жабдық сатып алуға алынды, 48 млн теңге, мерзімі 5 жыл.",
        ),
        ("tulpar", "Кредит на пополнение оборотных средств, 45 млн тенге на 36 месяцев."),
    ),
    "market_trade": (
        (
            "dala",
            "Торговое место на ярмарке выходного дня в мкр. Самал: овощи и картофель "
            "собственного производства.",
        ),
        (
            "saule",
            "Продажа мёда и домашних молочных продуктов на ярмарке у ТРЦ «Керуен» в "
            "субботу и воскресенье.",
        ),
        ("saule", "Демалыс күндері жәрмеңкеде өз бақшамның көкөністерін сатқым келеді."),
    ),
    "agri_subsidy": (
        ("dala", "Субсидия на приобретение 40 голов племенных тёлок казахской белоголовой породы."),
        ("dala", "Асыл тұқымды 25 бас ақбас сиыр сатып алуға субсидия беруді сұраймыз."),
        ("dala", "Возмещение затрат на искусственное осеменение маточного поголовья, 120 голов."),
    ),
    "vet_certificate": (
        ("dala", "Справка на перевозку 15 голов КРС на летнее пастбище в Талгарский район."),
        ("dala", "Справка на партию сливочного масла, 800 кг, для поставки в торговую сеть."),
        ("saule", "Ауылдан қалаға 3 бас жылқы тасымалдауға ветеринариялық анықтама қажет."),
        ("saule", "Справка на мёд, 200 кг, для продажи на сельскохозяйственной ярмарке."),
    ),
    "apz": (
        (
            "tulpar",
            "АПЗ для проектирования 9-этажного жилого дома на участке по ул. Розыбакиева, 247.",
        ),
        ("tulpar", "АПЗ для реконструкции склада под торговый центр, ул. Бекмаханова, 93."),
        ("saule", "АПЗ на индивидуальный жилой дом, мкр. Айгерим-1, участок 56."),
    ),
    "acceptance": (
        ("tulpar", "Приёмка административного здания после реконструкции, ул. Толе би, 286."),
        ("tulpar", "Приёмка двухэтажного детского сада на 120 мест в мкр. Шугыла."),
        ("tulpar", "Шұғыла ықшамауданындағы 5 қабатты тұрғын үйді пайдалануға қабылдау."),
    ),
    "land_plot": (
        (
            "tulpar",
            "Участок 1,2 га в промзоне по ул. Бекмаханова под склад строительных материалов.",
        ),
        ("dala", "Участок 0,45 га у выезда на трассу Алматы — Бишкек под овощехранилище."),
        (
            "saule",
            "Прошу предоставить участок 0,1 га под индивидуальное жилищное строительство "
            "в мкр. Туран.",
        ),
    ),
    "land_purpose_change": (
        (
            "saule",
            "Изменить назначение участка 0,08 га с ИЖС на коммерческий объект (магазин), "
            "ул. Жубанова, 12.",
        ),
        ("dala", "Перевод 5 га из пашни под строительство тепличного комплекса."),
        (
            "tulpar",
            "Учаскенің нысаналы мақсатын қоймадан көп қабатты тұрғын үйге өзгерту, "
            "Бекмаханов к-сі, 93.",
        ),
    ),
    "bus_route": (
        (
            "saule",
            "Маршрут № 37 «мкр. Шугыла — Железнодорожный вокзал», 6 автобусов средней "
            "вместимости (ИП Каримова).",
        ),
        ("saule", "Маршрут № 112 «пос. Кемел — ТРЦ Mega», 4 автобуса большой вместимости."),
    ),
    "taxi_stand": (
        ("saule", "Стоянка такси на 6 машиномест у автовокзала «Сайран»."),
        ("saule", "Қалалық № 5 емхана жанында 4 орындық такси тұрағы, Науаи к-сі."),
    ),
}

RESUBMIT_REASONS = (
    "Скан нечитаем: страницы обрезаны, печать не видна. Загрузите документ целиком.",
    "Документ выдан более года назад, нужна актуальная редакция.",
    "Копия не подписана и не заверена печатью заявителя.",
)

EXTRA_DOCUMENT_ASKS = (
    # document type, why it is needed, for which kinds of applicant
    (
        "power_of_attorney",
        "Заявление подписано не первым руководителем: приложите доверенность на подписанта.",
        ("company",),
    ),
    (
        "tax_clearance",
        "Нужна справка об отсутствии налоговой задолженности, выданная не ранее 10 дней назад.",
        ("company", "citizen"),
    ),
    ("charter", "Приложите устав в действующей редакции со всеми изменениями.", ("company",)),
    ("identity", "Приложите удостоверение личности заявителя (обе стороны).", ("citizen",)),
    (
        "lease_contract",
        "Нужен договор аренды помещения или письменное согласие собственника.",
        ("company", "citizen"),
    ),
)

REJECTION_REASONS = {
    "ENT": (
        "Вид деятельности заявителя не входит в перечень приоритетных отраслей программы.",
        "Конструкция не соответствует требованиям к размещению рекламы на центральных улицах.",
    ),
    "AGR": (
        "Поголовье не зарегистрировано в базе идентификации сельскохозяйственных животных.",
        "Лимит бюджетных средств на субсидирование на текущий год исчерпан.",
    ),
    "ARC": (
        "Участок находится в охранной зоне магистрального газопровода, застройка не допускается.",
        "Объект построен с отступлениями от утверждённого проекта (увеличена этажность).",
    ),
    "LND": (
        "Испрашиваемый участок уже предоставлен другому землепользователю.",
        "Изменение назначения противоречит генеральному плану города.",
    ),
    "MOB": (
        "Место стоянки находится в зоне действия знака «Остановка запрещена».",
        "Маршрут более чем на 70% дублирует действующий маршрут № 37.",
    ),
}

RETURN_REASONS = (
    "В проекте решения неверно указан адрес объекта, исправьте.",
    "Нет заключения юридического отдела, запросите и приложите.",
)

WITHDRAW_REASONS = (
    "Подадим заявку повторно с полным пакетом документов.",
    "Проект отложен на следующий год.",
    "Ошиблись услугой, подаём на другую.",
)

REASSIGN_REASONS = (
    "Специалист в командировке до конца недели.",
    "Выравнивание нагрузки в отделе.",
    "Специалист на больничном.",
)


# --- the stories of the requests --------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """How many requests go which way: steps are (action, working days after the last)."""

    count: int
    steps: tuple[tuple[str, int], ...]
    age: tuple[int, int]  # working days since submission
    overdue: bool = False  # age counts beyond the service's target
    max_target: int = 15
    policies: tuple[str, ...] = ("pause", "run", "restart")


SCENARIOS = {
    "not yet looked at": Scenario(2, (), age=(2, 3)),
    "in review": Scenario(3, (("accept", 1),), age=(2, 6)),
    "in review, overdue": Scenario(3, (("accept", 2),), age=(2, 5), overdue=True, max_target=10),
    "in approval, overdue": Scenario(
        1, (("accept", 1), ("approval", 3)), age=(1, 3), overdue=True, max_target=10
    ),
    "waiting, clock paused": Scenario(
        3, (("accept", 1), ("ask", 1)), age=(3, 7), policies=("pause", "restart")
    ),
    "waiting, clock runs": Scenario(1, (("accept", 1), ("ask", 1)), age=(3, 6), policies=("run",)),
    "asked at once": Scenario(1, (("ask", 1),), age=(2, 5)),
    "answered": Scenario(3, (("accept", 1), ("ask", 1), ("provide", 2)), age=(5, 12)),
    "in approval": Scenario(2, (("accept", 1), ("approval", 2)), age=(4, 9)),
    "answered, in approval": Scenario(
        2, (("accept", 1), ("ask", 1), ("provide", 2), ("approval", 1)), age=(6, 14)
    ),
    "reassigned": Scenario(2, (("reassign", 0), ("accept", 1)), age=(3, 8)),
    "approved": Scenario(3, (("accept", 1), ("approval", 2), ("approve", 1)), age=(6, 21)),
    "approved, no one signs off": Scenario(2, (("accept", 1), ("approve", 2)), age=(4, 21)),
    "approved after documents": Scenario(
        2,
        (("accept", 1), ("ask", 1), ("provide", 3), ("approval", 1), ("approve", 1)),
        age=(9, 21),
    ),
    "approved after a return": Scenario(
        1,
        (("accept", 1), ("approval", 1), ("return", 1), ("approval", 1), ("approve", 1)),
        age=(8, 21),
    ),
    "approved late": Scenario(
        1, (("accept", 3), ("approval", 4), ("approve", 2)), age=(11, 16), max_target=5
    ),
    "rejected": Scenario(2, (("accept", 1), ("reject", 2)), age=(4, 20)),
    "rejected at once": Scenario(1, (("reject", 1),), age=(2, 20)),
    "rejected in approval": Scenario(
        1, (("accept", 1), ("approval", 2), ("reject", 1)), age=(6, 20)
    ),
    "withdrawn": Scenario(1, (("accept", 1), ("withdraw", 2)), age=(4, 20)),
    "withdrawn while asked": Scenario(1, (("accept", 1), ("ask", 1), ("withdraw", 2)), age=(5, 20)),
}
# Then, in the last two working days, one new request per employee of each department: the
# newest work goes to whoever has none, so every employee's queue ends up non-empty.
FRESH_ACCEPTED_SHARE = 0.4


@dataclass
class Step:
    at: datetime
    action: str
    detail: dict = field(default_factory=dict)


@dataclass
class Story:
    service: Service
    applicant: User
    description: str
    steps: list[Step]
    request_id: int | None = None


# --- the command ------------------------------------------------------------------------


@click.command("seed")
@with_appcontext
def seed_command():
    """Seed demo data once (idempotent)."""
    existing = db.session.scalar(sa.select(Department.code).order_by(Department.id).limit(1))
    if existing is not None:
        click.echo(
            f"Departments exist already (first: {existing}): nothing seeded, nothing changed."
        )
        return
    started = time.monotonic()
    now = clock.now()
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - a repeatable story, not a secret
    days = recent_working_days(now, HISTORY_WORKING_DAYS + 1)
    with clock.travel(deadlines.calendar().office_open_at(days[-1]) - timedelta(days=14)):
        catalogue = seed_catalogue()
        people = seed_people()
    stories = plan_history(rng, now, days, catalogue, people)
    play(stories, rng, people)
    catch_up_sla(now)
    print_summary(time.monotonic() - started)


def seed_catalogue() -> dict:
    """Departments, document types and services, from the catalogue file, in file order."""
    catalogue_file.load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    # Staff can ask a business's representative for their power of attorney.
    businesses.power_of_attorney_type()
    db.session.commit()

    def by_code(model) -> dict:
        return {row.code: row for row in db.session.scalars(sa.select(model).order_by(model.id))}

    return {
        "departments": by_code(Department),
        "document_types": by_code(DocumentType),
        "services": by_code(Service),
    }


def seed_people() -> dict:
    """Employees in one transaction, then the applicants through registration."""
    departments = {d.code: d for d in db.session.scalars(sa.select(Department))}
    # One password for every demo account, so one hash serves them all.
    password_hash = accounts.hash_password(PASSWORD)
    employees = [
        User(
            email=email,
            password_hash=password_hash,
            full_name=name,
            role=role,
            department=departments[code] if code else None,
            locale=locale,
        )
        for code, role, email, name, locale in EMPLOYEES
    ]
    db.session.add_all(employees)
    db.session.commit()
    applicants = {
        key: accounts.register_applicant(
            email=email,
            password=PASSWORD,
            full_name=name,
            kind=kind,
            identifier=identifiers.with_check_digit(first11),
            company_name=company,
            locale=locale,
        )
        for key, email, name, kind, first11, company, locale in APPLICANTS
    }
    seed_business_members(applicants["dala"])
    heads = {u.department.code: u for u in employees if u.role == Role.HEAD}
    for code, head in heads.items():  # the catalogue names each department's head
        departments[code].head = head
    db.session.commit()
    staff: dict[str, list[User]] = {}
    for user in employees:
        if user.role == Role.STAFF:
            staff.setdefault(user.department.code, []).append(user)
    return {"applicants": applicants, "heads": heads, "staff": staff}


# Дала Агро has an accountant the owner let in, and someone asking to join (registered with
# its BIN, waiting for the owner): /my/business as the owner shows both.
BUSINESS_MEMBERS = (
    # email, full name, role, accepted by the owner
    ("buhgalter@dala-agro.kz", "Гульмира Сапарова", "accountant", True),
    ("agronom@dala-agro.kz", "Ерлан Абдиев", "employee", False),
)


def seed_business_members(owner: User) -> None:
    """Members of the owner's business, through registration and the owner's answer."""
    for email, name, role, accepted in BUSINESS_MEMBERS:
        member = accounts.register_applicant(
            email=email,
            password=PASSWORD,
            full_name=name,
            kind="company",
            identifier=owner.business.identifier,
            member_role=role,
            locale="ru",
        )
        if accepted:
            businesses.decide(owner, businesses.membership(member).id, True, role)


# --- planning: when each thing happens --------------------------------------------------


def recent_working_days(now: datetime, count: int) -> list[date]:
    """The last `count` working days, newest first; today only once the office has been
    open for two hours, so that the day has room for what happens in it."""
    calendar = deadlines.calendar()
    day = now.astimezone(calendar.tz).date()
    if not calendar.is_working_day(day) or calendar.office_open_at(day) + timedelta(hours=2) > now:
        day -= timedelta(days=1)
    days = []
    while len(days) < count:
        if calendar.is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    return days


class Moments:
    """Instants inside office hours on the recent working days, each after the one before."""

    def __init__(self, rng: random.Random, now: datetime, days: list[date]):
        self.rng, self.now, self.days = rng, now, days

    def at(self, days_ago: int, after: datetime | None = None) -> datetime:
        calendar = deadlines.calendar()
        day = self.days[days_ago]
        opens, closes = calendar.office_open_at(day), calendar.office_close_at(day)
        if days_ago == 0:
            closes = min(closes, self.now - timedelta(minutes=10))
        if after is not None:
            opens = max(opens, after + timedelta(minutes=5))
        if opens >= closes:  # the day is full: just after the previous step
            return after + timedelta(minutes=2)
        # Early in what is left of the day, leaving room for a later step on the same day.
        moment = opens + (closes - opens) * self.rng.uniform(0.05, 0.5)
        return moment.replace(microsecond=0)


def plan_history(rng, now, days, catalogue, people) -> list[Story]:
    """Who asks for what and when each step happens; nothing is written yet."""
    moments = Moments(rng, now, days)
    services = list(catalogue["services"].values())
    stories = []
    for name, scenario in SCENARIOS.items():
        # Approval rounds only where someone signs off; a straight decision only where no one.
        actions = {action for action, _ in scenario.steps}
        signed_off = True if "approval" in actions else (False if "approve" in actions else None)
        candidates = [
            s
            for s in services
            if s.target_days <= scenario.max_target
            and s.waiting_policy in scenario.policies
            and (signed_off is None or bool(s.approvers) == signed_off)
        ]
        for _ in range(scenario.count):
            service = rng.choice(candidates)
            span = sum(gap for _, gap in scenario.steps)
            low, high = scenario.age
            if scenario.overdue:
                low, high = service.target_days + low, service.target_days + high
            # Everything of the history happens before the last two working days.
            age = rng.randint(max(low, span + 2), max(high, span + 2))
            age = min(age, len(days) - 1)
            if age - span < 2:
                raise ValueError(f"scenario {name!r} does not fit in the history")
            stories.append(_story(rng, moments, service, people, age, scenario.steps))
    for department in catalogue["departments"].values():
        own = [s for s in services if s.department_id == department.id]
        for _ in people["staff"][department.code]:
            steps = (("accept", 0),) if rng.random() < FRESH_ACCEPTED_SHARE else ()
            stories.append(_story(rng, moments, rng.choice(own), people, rng.randint(0, 1), steps))
    return stories


def _story(rng, moments, service, people, age, steps) -> Story:
    applicant_key, description = rng.choice(REQUEST_TEXTS[service.code])
    applicant = people["applicants"][applicant_key]
    at = moments.at(age)
    story = Story(service, applicant, description, [Step(at, "submit")])
    department = service.department.code
    for action, gap in steps:
        age -= gap
        at = moments.at(age, after=at)
        detail = {}
        if action == "ask":
            detail["items"] = _ask_items(rng, service, applicant.business.kind)
        elif action == "reject":
            detail["reason"] = rng.choice(REJECTION_REASONS[department])
        elif action == "return":
            detail["reason"] = rng.choice(RETURN_REASONS)
        elif action == "withdraw":
            detail["reason"] = rng.choice(WITHDRAW_REASONS)
        elif action == "reassign":
            detail["reason"] = rng.choice(REASSIGN_REASONS)
        story.steps.append(Step(at, action, detail))
    return story


def _ask_items(rng, service: Service, kind: str) -> list[tuple[str, str]]:
    """What a caseworker asks for: a better copy of a required document and/or another one."""
    required = [d.code for d in service.required_documents]
    items = []
    if rng.random() < 0.7:
        items.append((rng.choice(required), rng.choice(RESUBMIT_REASONS)))
    extras = [(c, r) for c, r, kinds in EXTRA_DOCUMENT_ASKS if kind in kinds and c not in required]
    if not items or rng.random() < 0.5:
        items.append(rng.choice(extras))
    return items


# --- playing it: every step through the services, at its own time ------------------------


def play(stories: list[Story], rng: random.Random, people: dict) -> None:
    """Run all steps of all stories in the order they happened, so that assignment sees
    the queues as they stood then."""
    timeline = sorted(
        (step.at, number, index)
        for number, story in enumerate(stories)
        for index, step in enumerate(story.steps)
    )
    for at, number, index in timeline:
        catch_up_sla(at)
        story = stories[number]
        with clock.travel(at):
            _perform(story, story.steps[index], rng, people)


def catch_up_sla(until: datetime) -> None:
    """Sweep at each moment a check fell due up to `until`, as the scheduler would have:
    at-risk warnings, breaches and escalations then carry their real times."""
    for _ in range(10_000):
        due = db.session.scalar(sa.select(sa.func.min(ServiceRequest.next_check_at)))
        if due is None or due > until:
            return
        with clock.travel(due):
            sweep.sweep(now=due)
    raise RuntimeError("the SLA sweep keeps finding work due")


def _perform(story: Story, step: Step, rng: random.Random, people: dict) -> None:
    if step.action == "submit":
        files = [_upload(d) for d in story.service.required_documents]
        request = request_service.submit(story.applicant, story.service, story.description, files)
        story.request_id = request.id
        return
    request = db.session.get(ServiceRequest, story.request_id)
    reference, assignee = request.reference, request.assignee
    head = people["heads"][story.service.department.code]
    reason = step.detail.get("reason")
    if step.action == "accept":
        request_service.act(assignee, reference, "accept_documents")
    elif step.action == "approval":
        request_service.act(assignee, reference, "send_to_approval")
    elif step.action == "approve":
        # Every sign-off first, by someone it waits on; then the caseworker's decision.
        for waiting in approvals.waiting(request):
            approvals.answer(_approver(waiting), waiting.id, "approve")
        request_service.act(assignee, reference, "approve")
    elif step.action == "return":
        waiting = approvals.waiting(request)[0]
        approvals.answer(_approver(waiting), waiting.id, "return", reason)
    elif step.action == "reject":
        # In approval it is the head who says no; before that, the employee.
        deciding = head if request.state == "in_approval" else assignee
        request_service.act(deciding, reference, "reject", reason)
    elif step.action == "ask":
        types = {t.code: t.id for t in db.session.scalars(sa.select(DocumentType))}
        items = [(types[code], why) for code, why in step.detail["items"]]
        request_service.request_documents(assignee, reference, items)
    elif step.action == "provide":
        asked = request.open_document_request
        files = [_upload(item.document_type) for item in asked.items]
        request_service.provide_documents(story.applicant, reference, files)
    elif step.action == "withdraw":
        request_service.withdraw(story.applicant, reference, reason)
    elif step.action == "reassign":
        others = [u for u in people["staff"][head.department.code] if u.id != assignee.id]
        request_service.reassign(head, reference, rng.choice(others).id, reason)
    else:
        raise ValueError(f"unknown step {step.action}")


def _approver(step: ApprovalStep) -> User:
    """The first person who may give this sign-off (never the caseworker or the sender)."""
    return next(
        person
        for person in approvals.approvers_of(step)
        if person.id not in (step.request.assignee_id, step.requested_by_id)
    )


def _upload(document_type: DocumentType) -> Upload:
    data = _pdf(f"{document_type.name_en} (Moldir demo)")
    name = document_type.code.replace("_", "-") + ".pdf"
    file = FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")
    return Upload(document_type.id, file)


def _pdf(text: str) -> bytes:
    """A one-page PDF 1.4 with one line of text: small, valid, opens in any viewer."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 16 Tf 72 760 Td ({escaped}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# --- the summary ------------------------------------------------------------------------


def print_summary(seconds: float) -> None:
    def count(model, *where) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    states = Counter(db.session.scalars(sa.select(ServiceRequest.state)))
    clocks = Counter(
        db.session.scalars(
            sa.select(ServiceRequest.sla_state).where(ServiceRequest.state.in_(OPEN_STATE_VALUES))
        )
    )
    roles = Counter(db.session.scalars(sa.select(User.role)))
    click.echo(f"Seeded demo data in {seconds:.1f} s:")
    click.echo(
        f"  {count(Department)} departments, {count(DocumentType)} document types, "
        f"{count(Service)} services, {count(Business)} businesses"
    )
    click.echo(f"  {count(User)} users: {_tally(roles)}")
    click.echo(f"  {count(ServiceRequest)} requests: {_tally(states)}")
    click.echo(f"  open requests by SLA clock: {_tally(clocks)}")
    click.echo(
        f"  {count(Document)} documents, {count(DocumentRequest)} document requests, "
        f"{count(Event)} events, {count(Escalation)} escalations"
    )
    click.echo(f"Demo logins (password {PASSWORD}):")
    for code, role, email, name, _ in EMPLOYEES:
        click.echo(f"  {email:<26} {role:<11} {name}{f' ({code})' if code else ''}")
    for _, email, name, kind, _, company, _ in APPLICANTS:
        click.echo(f"  {email:<26} {'applicant':<11} {name}, {company or kind}")
    for email, name, role, accepted in BUSINESS_MEMBERS:
        state = role if accepted else f"asks to join as {role}"
        click.echo(f"  {email:<26} {'applicant':<11} {name}, ТОО «Дала Агро» ({state})")


def _tally(counter: Counter) -> str:
    return ", ".join(f"{n} {key}" for key, n in sorted(counter.items()))
