"""Languages: Russian by default, Kazakh and English a click away, remembered per person."""

import re

from portal.models import Role, User
from portal.services import approvals
from tests.conftest import PASSWORD
from tests.helpers import VALID_IIN, fresh, main, post_form, sign_in, sign_out, submitted, text

KAZAKH_LETTERS = re.compile("[әғқңөұүһі]", re.IGNORECASE)


def html_lang(response) -> str:
    return re.search(r'<html lang="([a-z]+)">', text(response)).group(1)


def switch_links(response) -> dict[str, str]:
    """Language code → the link's address, from the language switch."""
    nav = text(response).split('class="lang-switch"')[1].split("</nav>")[0]
    return dict(
        (code, href)
        for href, code in re.findall(r'<a href="(/lang/[a-z]+\?next=[^"]*)" lang="([a-z]+)"', nav)
    )


def header(response) -> str:
    page = text(response)
    return page[page.index("<header") : page.index('class="lang-switch"')]


def test_every_page_offers_russian_kazakh_and_english(make, client):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter])
    employee = make.employee(department)
    head = make.employee(department, Role.HEAD)
    supervisor = make.overseer()
    applicant = make.applicant()
    sign_in(client, applicant, lang=None)
    reference = submitted(client, service)
    sign_out(client)

    pages = {
        None: [
            "/",
            "/services",
            f"/services/{service.code}",
            "/login",
            "/register",
            "/no-such-page",
        ],
        applicant: [
            "/my/requests",
            f"/my/apply/{service.code}",
            f"/my/requests/{reference}",
            f"/my/requests/{reference}/confirmation",
            "/staff/queue",  # the 403 page too
        ],
        employee: ["/staff/queue", f"/staff/requests/{reference}"],
        head: ["/staff/department"],
        supervisor: ["/supervisor/requests", f"/supervisor/requests/{reference}"],
    }
    for who, paths in pages.items():
        if who is not None:
            sign_in(client, who, lang=None)
        for path in paths:
            response = client.get(path)
            assert response.status_code in (200, 403, 404), path
            links = switch_links(response)
            assert sorted(links) == ["en", "kk", "ru"], path
            for code, href in links.items():
                assert href == f"/lang/{code}?next={path}?", path
            assert html_lang(response) == "ru", path


def test_a_page_shown_after_a_failed_form_offers_the_languages_too(client):
    response = post_form(client, "/login", {"email": "", "password": ""})

    assert response.status_code == 422
    assert switch_links(response)["kk"] == "/lang/kk?next=/login"


def test_russian_is_the_default_whatever_the_browser_prefers(make, client):
    department = make.department()
    make.service(department)

    for preference in ("en-US,en;q=0.9", "kk-KZ,kk;q=0.9", "de", ""):
        response = client.get("/services", headers={"Accept-Language": preference})
        assert html_lang(response) == "ru", preference
        page = main(response)
        assert department.name_ru in page
        assert department.name_en not in page
        assert 'lang="ru" hreflang="ru" aria-current="true"' in text(response)


def test_switching_to_kazakh_or_english_changes_what_the_page_says(make, client):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter])

    russian = client.get("/services")
    seen = {"ru": russian}
    for code in ("kk", "en"):
        switched = client.get(f"/lang/{code}?next=/services")
        assert switched.status_code == 302
        assert switched.headers["Location"] == "/services"
        seen[code] = client.get("/services")
        assert html_lang(seen[code]) == code
        assert f'lang="{code}" hreflang="{code}" aria-current="true"' in text(seen[code])

    assert department.name_kk in main(seen["kk"])
    assert service.title_kk in main(seen["kk"])
    assert charter.name_kk in main(seen["kk"])
    assert department.name_en in main(seen["en"])
    assert service.title_en in main(seen["en"])
    assert "Service catalogue" in main(seen["en"])
    # The interface itself is translated, not only the names from the database.
    headings = {code: re.search(r"<h1>(.*?)</h1>", text(r)).group(1) for code, r in seen.items()}
    assert len(set(headings.values())) == 3, headings
    assert len({header(r) for r in seen.values()}) == 3
    assert KAZAKH_LETTERS.search(header(seen["kk"]) + headings["kk"])
    assert re.search("[а-яА-Я]", headings["ru"])


def test_a_logged_in_persons_choice_is_kept_on_their_account(make, client, app):
    employee = make.employee(make.department())
    assert employee.locale == "ru"
    sign_in(client, employee, lang=None)
    russian = client.get("/staff/queue")

    client.get("/lang/kk?next=/staff/queue")

    assert fresh(User, id=employee.id).locale == "kk"
    # Another browser, nothing in its session: the account decides.
    elsewhere = app.test_client()
    sign_in(elsewhere, employee, lang=None)
    response = elsewhere.get("/staff/queue")
    assert html_lang(response) == "kk"
    assert header(response) != header(russian)


def test_the_language_chosen_before_registering_is_kept(client):
    client.get("/lang/en")

    response = post_form(
        client,
        "/register",
        {
            "kind": "citizen",
            "full_name": "Aruzhan Bekova",
            "identifier": VALID_IIN,
            "email": "aruzhan@mail.kz",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )

    assert response.status_code == 302
    assert fresh(User, email="aruzhan@mail.kz").locale == "en"
    assert html_lang(client.get("/my/requests")) == "en"


def test_the_language_stays_through_logging_in_and_out(make, client):
    applicant = make.applicant()
    client.get("/lang/kk")

    logged_in = post_form(client, "/login", {"email": applicant.email, "password": PASSWORD})
    assert logged_in.status_code == 302
    assert html_lang(client.get("/my/requests")) == "kk"

    sign_out(client)
    assert html_lang(client.get("/")) == "kk"


def test_the_switch_goes_back_only_to_pages_of_this_site(client):
    for target in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\\/evil.example/",
        "javascript:alert(1)",
    ):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target


def test_an_unknown_language_is_not_found_and_changes_nothing(make, client):
    applicant = make.applicant()
    sign_in(client, applicant, lang=None)

    response = client.get("/lang/de?next=/my/requests")

    assert response.status_code == 404
    assert fresh(User, id=applicant.id).locale == "ru"
    assert html_lang(client.get("/my/requests")) == "ru"


def test_status_chips_on_the_queues_follow_the_language(make, client):
    """The queue's chips are translated when the page is shown, not when it was compiled."""
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter])
    employee = make.employee(department)
    head = make.employee(department, Role.HEAD)
    applicant = make.applicant()
    sign_in(client, applicant)
    submitted(client, service)
    sign_out(client)
    chips = {
        "ru": ("риск просрочки", "просрочено", "срок соблюдается"),
        "kk": ("мерзімі өту қаупі бар", "мерзімі өткен", "мерзімінде орындалуда"),
        "en": ("at risk", "overdue", "on track"),
    }
    for person, path in ((employee, "/staff/queue"), (head, "/staff/department")):
        for lang in ("ru", "kk", "en"):  # Russian first: the page is compiled then
            sign_in(client, person, lang=lang)
            counts = main(client.get(path)).split('class="counts"')[1].split("</ul>")[0]
            for chip in chips[lang]:
                assert f">{chip}</span>" in counts, (path, lang, chip)
            sign_out(client)


def test_roles_read_with_one_name_in_each_language(make, client):
    """The admin's people list and a sign-off stage name a role from the same table."""
    department = make.department()
    make.employee(department, name="Aigerim Nurlanova")
    admin = make.overseer(Role.ADMIN)
    names = {
        "ru": ("Специалист", "Руководитель отдела", "Администратор"),
        "kk": ("Маман", "Бөлім басшысы", "Әкімші"),
        "en": ("Specialist", "Head of the department", "Administrator"),
    }
    for lang in ("ru", "kk", "en"):
        sign_in(client, admin, lang=lang)
        page = main(client.get("/admin/people"))
        for name in names[lang]:
            assert f">{name}<" in page, (lang, name)
        assert approvals.stage_names("role:head")[lang] == names[lang][1]
        sign_out(client)
