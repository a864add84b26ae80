"""What each message says, in Kazakh, Russian and English.

One table: template name -> language -> (subject, body), as Jinja source for plain text.
Every body is framed by a greeting and a footer with the request's reference and a link
to it (the page for the recipient's role, under BASE_URL). The context is the snapshot
`notifications.outbox.snapshot` took when the message was owed; names that have
translations arrive as {"ru": ..., "kk": ..., "en": ...} and `tr` picks one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date, format_time
from flask import current_app, has_app_context

from portal import config

LANGUAGES = ("ru", "kk", "en")

GREETING = {
    "ru": "Здравствуйте, {{ recipient }}!",
    "kk": "Сәлеметсіз бе, {{ recipient }}!",
    "en": "Hello, {{ recipient }}!",
}
FOOTER = {
    "ru": "{% if reference %}Номер обращения: {{ reference }}\nОткрыть обращение: {{ link }}"
    "{% else %}Открыть: {{ link }}{% endif %}\n\n"
    "— Мөлдір, портал услуг акимата",
    "kk": "{% if reference %}Өтініш нөмірі: {{ reference }}\nӨтінішті ашу: {{ link }}"
    "{% else %}Ашу: {{ link }}{% endif %}\n\n"
    "— Мөлдір, әкімдік қызметтерінің порталы",
    "en": "{% if reference %}Reference: {{ reference }}\nOpen the request: {{ link }}"
    "{% else %}Open: {{ link }}{% endif %}\n\n"
    "— Moldir, the city administration's service portal",
}

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    # --- approvals (portal/services/approvals.py) and the daily stand-up digest ---
    "approval_requested": {
        "ru": (
            "{{ reference }}: требуется ваше согласование",
            "Обращение {{ reference }} («{{ service|tr }}», {{ department|tr }}) направлено "
            "на согласование: {{ stage|tr }}.\nСогласуйте или верните с комментарием до "
            "{{ step_due_at|when }}.",
        ),
        "kk": (
            "{{ reference }}: сіздің келісуіңіз қажет",
            "{{ reference }} өтініші («{{ service|tr }}», {{ department|tr }}) келісуге "
            "жіберілді: {{ stage|tr }}.\n{{ step_due_at|when }} дейін келісіңіз немесе "
            "түсініктемемен қайтарыңыз.",
        ),
        "en": (
            "{{ reference }}: your approval is needed",
            "Request {{ reference }} (“{{ service|tr }}”, {{ department|tr }}) is waiting for "
            "approval: {{ stage|tr }}.\nApprove it or return it with a comment by "
            "{{ step_due_at|when }}.",
        ),
    },
    "approval_returned": {
        "ru": (
            "{{ reference }}: возвращено с согласования",
            "Обращение {{ reference }} («{{ service|tr }}») возвращено на рассмотрение "
            "({{ stage|tr }}{% if approver %}, {{ approver }}{% endif %}).\n"
            "Комментарий: {{ comment }}",
        ),
        "kk": (
            "{{ reference }}: келісуден қайтарылды",
            "{{ reference }} өтініші («{{ service|tr }}») қайта қарауға қайтарылды "
            "({{ stage|tr }}{% if approver %}, {{ approver }}{% endif %}).\n"
            "Түсініктеме: {{ comment }}",
        ),
        "en": (
            "{{ reference }}: returned from approval",
            "Request {{ reference }} (“{{ service|tr }}”) was returned to review "
            "({{ stage|tr }}{% if approver %}, {{ approver }}{% endif %}).\n"
            "Comment: {{ comment }}",
        ),
    },
    "daily_digest": {
        "ru": (
            "Планёрка {{ day|when }}: {% if department %}{{ department|tr }}"
            "{% else %}все отделы{% endif %}",
            "Сводка на {{ day|when }}{% if department %} — {{ department|tr }}{% endif %}:\n"
            "- срок сегодня: {{ counts.due_today }}\n"
            "- под угрозой срыва срока: {{ counts.at_risk }}\n"
            "- просрочено: {{ counts.breached }}\n"
            "- новые со вчерашнего дня: {{ counts.new }}\n"
            "- ждут документов от заявителей: {{ counts.waiting }}\n"
            "- на согласовании: {{ counts.in_approval }}"
            "{% for row in rows %}\n\n{{ row.department|tr }}: срок сегодня "
            "{{ row.counts.due_today }}, под угрозой {{ row.counts.at_risk }}, просрочено "
            "{{ row.counts.breached }}, новых {{ row.counts.new }}, ждут заявителей "
            "{{ row.counts.waiting }}{% endfor %}",
        ),
        "kk": (
            "{{ day|when }} жиналысы: {% if department %}{{ department|tr }}"
            "{% else %}барлық бөлімдер{% endif %}",
            "{{ day|when }} жиынтығы{% if department %} — {{ department|tr }}{% endif %}:\n"
            "- мерзімі бүгін: {{ counts.due_today }}\n"
            "- мерзімі өту қаупінде: {{ counts.at_risk }}\n"
            "- мерзімі өткен: {{ counts.breached }}\n"
            "- кешеден бергі жаңалары: {{ counts.new }}\n"
            "- өтініш берушілерден құжат күтуде: {{ counts.waiting }}\n"
            "- келісуде: {{ counts.in_approval }}"
            "{% for row in rows %}\n\n{{ row.department|tr }}: мерзімі бүгін "
            "{{ row.counts.due_today }}, қауіпте {{ row.counts.at_risk }}, мерзімі өткен "
            "{{ row.counts.breached }}, жаңа {{ row.counts.new }}, өтініш берушіні күтуде "
            "{{ row.counts.waiting }}{% endfor %}",
        ),
        "en": (
            "Stand-up, {{ day|when }}: {% if department %}{{ department|tr }}"
            "{% else %}all departments{% endif %}",
            "Digest for {{ day|when }}{% if department %} — {{ department|tr }}{% endif %}:\n"
            "- due today: {{ counts.due_today }}\n"
            "- at risk: {{ counts.at_risk }}\n"
            "- overdue: {{ counts.breached }}\n"
            "- new since yesterday: {{ counts.new }}\n"
            "- waiting on applicants: {{ counts.waiting }}\n"
            "- in approval: {{ counts.in_approval }}"
            "{% for row in rows %}\n\n{{ row.department|tr }}: due today "
            "{{ row.counts.due_today }}, at risk {{ row.counts.at_risk }}, overdue "
            "{{ row.counts.breached }}, new {{ row.counts.new }}, waiting on applicants "
            "{{ row.counts.waiting }}{% endfor %}",
        ),
    },
    # --- a business's people (portal/services/businesses.py) ---
    "business_join_requested": {
        "ru": (
            "{{ business }}: {{ person }} просит доступ",
            "{{ person }} ({{ email }}) зарегистрировался с БИН вашей организации и просит "
            "доступ к её обращениям как {{ role|tr }}.\nПримите или отклоните запрос на "
            "странице сотрудников организации.",
        ),
        "kk": (
            "{{ business }}: {{ person }} қол жеткізуді сұрайды",
            "{{ person }} ({{ email }}) ұйымыңыздың БСН-імен тіркеліп, оның өтініштеріне "
            "{{ role|tr }} ретінде қол жеткізуді сұрайды.\nСұрауды ұйым қызметкерлері "
            "бетінде қабылдаңыз немесе қабылдамаңыз.",
        ),
        "en": (
            "{{ business }}: {{ person }} asks to join",
            "{{ person }} ({{ email }}) registered with your business's BIN and asks to see "
            "its requests as {{ role|tr }}.\nAccept or decline on your business's members page.",
        ),
    },
    "business_join_accepted": {
        "ru": (
            "{{ business }}: доступ открыт",
            "Владелец принял ваш запрос: теперь вы {{ role|tr }} в «{{ business }}» и видите "
            "обращения организации.",
        ),
        "kk": (
            "{{ business }}: қол жеткізу ашылды",
            "Иесі сұрауыңызды қабылдады: енді сіз «{{ business }}» ұйымында {{ role|tr }} "
            "ретіндесіз және ұйымның өтініштерін көресіз.",
        ),
        "en": (
            "{{ business }}: you are in",
            "The owner accepted your request: you are now {{ role|tr }} at “{{ business }}” "
            "and see its requests.",
        ),
    },
    "business_join_declined": {
        "ru": (
            "{{ business }}: запрос отклонён",
            "Владелец «{{ business }}» отклонил ваш запрос на доступ к обращениям организации.",
        ),
        "kk": (
            "{{ business }}: сұрау қабылданбады",
            "«{{ business }}» иесі ұйым өтініштеріне қол жеткізу сұрауыңызды қабылдамады.",
        ),
        "en": (
            "{{ business }}: request declined",
            "The owner of “{{ business }}” declined your request to see its requests.",
        ),
    },
    "business_member_removed": {
        "ru": (
            "{{ business }}: доступ закрыт",
            "Владелец «{{ business }}» исключил вас из сотрудников: обращения организации вам "
            "больше не видны.",
        ),
        "kk": (
            "{{ business }}: қол жеткізу жабылды",
            "«{{ business }}» иесі сізді қызметкерлер қатарынан шығарды: ұйым өтініштері енді "
            "сізге көрінбейді.",
        ),
        "en": (
            "{{ business }}: access ended",
            "The owner of “{{ business }}” removed you: its requests are no longer open to you.",
        ),
    },
    "business_ownership_received": {
        "ru": (
            "{{ business }}: вы теперь владелец",
            "{{ person }} передал(а) вам права владельца «{{ business }}»: вы принимаете "
            "новых сотрудников и управляете доступом.",
        ),
        "kk": (
            "{{ business }}: енді сіз иесісіз",
            "{{ person }} сізге «{{ business }}» иесінің құқықтарын берді: жаңа қызметкерлерді "
            "қабылдайсыз және қол жеткізуді басқарасыз.",
        ),
        "en": (
            "{{ business }}: you are now the owner",
            "{{ person }} handed “{{ business }}” over to you: you now let people in and "
            "manage who sees its requests.",
        ),
    },
    "business_invitation": {
        "ru": (
            "Приглашение от «{{ business }}»",
            "{{ person }} приглашает вас на портал Мөлдір как {{ role|tr }} «{{ business }}».\n"
            "Создайте учётную запись по ссылке ниже до {{ expires_at|when }}; ссылка "
            "действует один раз.",
        ),
        "kk": (
            "«{{ business }}» шақыруы",
            "{{ person }} сізді Мөлдір порталына «{{ business }}» ұйымының {{ role|tr }} "
            "ретінде шақырады.\nТөмендегі сілтеме арқылы {{ expires_at|when }} дейін тіркелгі "
            "жасаңыз; сілтеме бір рет жұмыс істейді.",
        ),
        "en": (
            "An invitation from “{{ business }}”",
            "{{ person }} invites you to the Moldir portal as {{ role|tr }} of "
            "“{{ business }}”.\nCreate your account with the link below by "
            "{{ expires_at|when }}; it works once.",
        ),
    },
    "business_invitation_accepted": {
        "ru": (
            "{{ business }}: {{ person }} принял(а) приглашение",
            "{{ person }} создал(а) учётную запись по вашему приглашению и видит обращения "
            "«{{ business }}».",
        ),
        "kk": (
            "{{ business }}: {{ person }} шақыруды қабылдады",
            "{{ person }} шақыруыңыз бойынша тіркелгі жасады және «{{ business }}» "
            "өтініштерін көреді.",
        ),
        "en": (
            "{{ business }}: {{ person }} accepted your invitation",
            "{{ person }} created an account with your invitation and sees the requests of "
            "“{{ business }}”.",
        ),
    },
    "request_submitted": {
        "ru": (
            "Обращение {{ reference }} принято",
            "Ваше обращение {{ reference }} по услуге «{{ service|tr }}» принято.\n"
            "Срок рассмотрения — до {{ due_at|when }}."
            "{% if assignee %}\nОтветственный сотрудник: {{ assignee }} "
            "({{ department|tr }}).{% endif %}",
        ),
        "kk": (
            "{{ reference }} өтініші қабылданды",
            "«{{ service|tr }}» қызметі бойынша {{ reference }} өтінішіңіз қабылданды.\n"
            "Қарау мерзімі — {{ due_at|when }} дейін."
            "{% if assignee %}\nЖауапты қызметкер: {{ assignee }} "
            "({{ department|tr }}).{% endif %}",
        ),
        "en": (
            "Request {{ reference }} received",
            "Your request {{ reference }} for “{{ service|tr }}” has been received.\n"
            "It is due by {{ due_at|when }}."
            "{% if assignee %}\nAccountable employee: {{ assignee }} "
            "({{ department|tr }}).{% endif %}",
        ),
    },
    "request_assigned": {
        "ru": (
            "{{ reference }}: {% if assignee %}ответственный сотрудник — {{ assignee }}"
            "{% else %}ответственный сотрудник будет назначен{% endif %}",
            "{% if assignee %}За ваше обращение {{ reference }} («{{ service|tr }}») отвечает "
            "{{ assignee }} ({{ department|tr }}).{% else %}Ответственный сотрудник по вашему "
            "обращению {{ reference }} («{{ service|tr }}») будет назначен в ближайшее время."
            "{% endif %} Срок — до {{ due_at|when }}.\n"
            "Если чего-то не хватает, сотрудник сам свяжется с вами: вам не нужно его "
            "разыскивать.",
        ),
        "kk": (
            "{{ reference }}: {% if assignee %}жауапты қызметкер — {{ assignee }}"
            "{% else %}жауапты қызметкер тағайындалады{% endif %}",
            "{% if assignee %}{{ reference }} өтінішіңізге («{{ service|tr }}») {{ assignee }} "
            "({{ department|tr }}) жауап береді.{% else %}{{ reference }} өтінішіңізге "
            "(«{{ service|tr }}») жауапты қызметкер жақын арада тағайындалады.{% endif %} "
            "Мерзімі — {{ due_at|when }} дейін.\n"
            "Қандай да бір құжат жетіспесе, қызметкердің өзі сізге хабарласады: оны іздеудің "
            "қажеті жоқ.",
        ),
        "en": (
            "{{ reference }}: {% if assignee %}{{ assignee }} is accountable for your request"
            "{% else %}an accountable employee will be named{% endif %}",
            "{% if assignee %}{{ assignee }} ({{ department|tr }}) is the employee accountable "
            "for your request {{ reference }} (“{{ service|tr }}”).{% else %}An employee will "
            "soon be made accountable for your request {{ reference }} "
            "(“{{ service|tr }}”).{% endif %} It is due by {{ due_at|when }}.\n"
            "If anything is missing, they will ask you: you do not need to chase them.",
        ),
    },
    "new_assignment": {
        "ru": (
            "Вам назначено обращение {{ reference }}",
            "Вам назначено обращение {{ reference }} («{{ service|tr }}») от заявителя "
            "{{ applicant }}. Срок — до {{ due_at|when }}.",
        ),
        "kk": (
            "Сізге {{ reference }} өтініші тағайындалды",
            "{{ applicant }} өтініш берушінің {{ reference }} өтініші («{{ service|tr }}») "
            "сізге тағайындалды. Мерзімі — {{ due_at|when }} дейін.",
        ),
        "en": (
            "New request {{ reference }} assigned to you",
            "Request {{ reference }} (“{{ service|tr }}”) from {{ applicant }} is assigned to "
            "you. It is due by {{ due_at|when }}.",
        ),
    },
    "documents_requested": {
        "ru": (
            "{{ reference }}: нужны документы",
            "Для рассмотрения обращения {{ reference }} («{{ service|tr }}») нам нужны:\n"
            "{{ items|bullets }}\n\n"
            "Пожалуйста, загрузите их до {{ reply_by|when }}. Если документы не поступят к "
            "этому сроку, в обращении будет отказано как в неполном.",
        ),
        "kk": (
            "{{ reference }}: құжаттар қажет",
            "{{ reference }} өтінішін («{{ service|tr }}») қарау үшін бізге мыналар қажет:\n"
            "{{ items|bullets }}\n\n"
            "Оларды {{ reply_by|when }} дейін жүктеп беріңіз. Құжаттар осы мерзімге дейін "
            "ұсынылмаса, өтінішке толық болмауына байланысты бас тартылады.",
        ),
        "en": (
            "{{ reference }}: documents needed",
            "To continue with your request {{ reference }} (“{{ service|tr }}”) we need:\n"
            "{{ items|bullets }}\n\n"
            "Please upload them by {{ reply_by|when }}. If they have not arrived by then, the "
            "request will be refused as incomplete.",
        ),
    },
    "documents_reminder": {
        "ru": (
            "Напоминание {{ number }}: по обращению {{ reference }} ждём документы",
            "Напоминание № {{ number }} по обращению {{ reference }} («{{ service|tr }}»). "
            "Мы всё ещё ждём:\n{{ items|bullets }}\n\n"
            "Пожалуйста, загрузите их до {{ reply_by|when }}; после этого срока в обращении "
            "будет отказано как в неполном.",
        ),
        "kk": (
            "{{ number }}-еске салу: {{ reference }} өтініші бойынша құжаттарды күтудеміз",
            "{{ reference }} өтініші («{{ service|tr }}») бойынша № {{ number }} еске салу. "
            "Біз әлі де мыналарды күтудеміз:\n{{ items|bullets }}\n\n"
            "Оларды {{ reply_by|when }} дейін жүктеп беріңіз; бұл мерзімнен кейін өтінішке "
            "толық болмауына байланысты бас тартылады.",
        ),
        "en": (
            "Reminder {{ number }}: {{ reference }} still needs documents",
            "This is reminder {{ number }} about your request {{ reference }} "
            "(“{{ service|tr }}”). We are still waiting for:\n{{ items|bullets }}\n\n"
            "Please upload them by {{ reply_by|when }}; after that the request will be "
            "refused as incomplete.",
        ),
    },
    "package_complete": {
        "ru": (
            "{{ reference }}: заявитель прислал недостающие документы",
            "Заявитель {{ applicant }} представил недостающие документы по обращению "
            "{{ reference }} («{{ service|tr }}»). Пакет полный, обращение вернулось в вашу "
            "очередь.{% if due_at %} Срок — до {{ due_at|when }}.{% endif %}",
        ),
        "kk": (
            "{{ reference }}: өтініш беруші жетіспейтін құжаттарды жіберді",
            "Өтініш беруші {{ applicant }} {{ reference }} өтініші («{{ service|tr }}») "
            "бойынша жетіспейтін құжаттарды ұсынды. Құжаттар топтамасы толық, өтініш сіздің "
            "кезегіңізге қайтты.{% if due_at %} Мерзімі — {{ due_at|when }} дейін.{% endif %}",
        ),
        "en": (
            "{{ reference }}: the applicant sent the missing documents",
            "{{ applicant }} has provided the missing documents for request {{ reference }} "
            "(“{{ service|tr }}”). The package is complete and the request is back in your "
            "queue.{% if due_at %} It is due by {{ due_at|when }}.{% endif %}",
        ),
    },
    "decision_approved": {
        "ru": (
            "{{ reference }}: обращение одобрено",
            "Ваше обращение {{ reference }} («{{ service|tr }}») одобрено.",
        ),
        "kk": (
            "{{ reference }}: өтініш мақұлданды",
            "{{ reference }} өтінішіңіз («{{ service|tr }}») мақұлданды.",
        ),
        "en": (
            "{{ reference }}: approved",
            "Your request {{ reference }} (“{{ service|tr }}”) has been approved.",
        ),
    },
    "decision_rejected": {
        "ru": (
            "{{ reference }}: в обращении отказано",
            "По вашему обращению {{ reference }} («{{ service|tr }}») принято решение об "
            "отказе.{% if reason %}\nПричина: {{ reason }}{% endif %}",
        ),
        "kk": (
            "{{ reference }}: өтінішке бас тартылды",
            "{{ reference }} өтінішіңіз («{{ service|tr }}») бойынша бас тарту туралы шешім "
            "қабылданды.{% if reason %}\nСебебі: {{ reason }}{% endif %}",
        ),
        "en": (
            "{{ reference }}: rejected",
            "Your request {{ reference }} (“{{ service|tr }}”) has been rejected."
            "{% if reason %}\nReason: {{ reason }}{% endif %}",
        ),
    },
    "refused_incomplete": {
        "ru": (
            "{{ reference }}: отказ — документы не представлены в срок",
            "В обращении {{ reference }} («{{ service|tr }}») отказано: запрошенные документы "
            "не были представлены{% if reply_by %} до {{ reply_by|when }}{% endif %}.\n"
            "{{ items|bullets }}\n\n"
            "Вы можете подать новое обращение на основе этого: уже представленные документы "
            "будут перенесены.",
        ),
        "kk": (
            "{{ reference }}: бас тартылды — құжаттар мерзімінде ұсынылмады",
            "Сұралған құжаттар{% if reply_by %} {{ reply_by|when }} дейін{% endif %} "
            "ұсынылмағандықтан, {{ reference }} өтінішіне («{{ service|tr }}») бас тартылды.\n"
            "{{ items|bullets }}\n\n"
            "Осы өтініштің негізінде жаңа өтініш бере аласыз: бұрын ұсынылған құжаттар "
            "көшіріледі.",
        ),
        "en": (
            "{{ reference }}: refused, documents not provided in time",
            "Your request {{ reference }} (“{{ service|tr }}”) has been refused: the documents "
            "we asked for were not provided{% if reply_by %} by {{ reply_by|when }}{% endif %}."
            "\n{{ items|bullets }}\n\n"
            "You can start a new request from this one; the documents you already gave will "
            "be carried over.",
        ),
    },
    "escalation_at_risk": {
        "ru": (
            "Обращение {{ reference }} под угрозой срыва срока",
            "Срок по назначенному вам обращению {{ reference }} («{{ service|tr }}») под "
            "угрозой: его нужно рассмотреть до {{ due_at|when }}.",
        ),
        "kk": (
            "{{ reference }} өтінішінің мерзімі бұзылу қаупінде",
            "Сізге тағайындалған {{ reference }} өтінішінің («{{ service|tr }}») мерзімі "
            "бұзылу қаупінде: оны {{ due_at|when }} дейін қарау керек.",
        ),
        "en": (
            "{{ reference }} is at risk of missing its deadline",
            "Request {{ reference }} (“{{ service|tr }}”), assigned to you, is at risk: it is "
            "due by {{ due_at|when }}.",
        ),
    },
    "escalation_intake": {
        "ru": (
            "{{ reference }}: срок проверки комплектности истёк",
            "Проверку комплектности документов по обращению {{ reference }} "
            "(«{{ service|tr }}») нужно было завершить до {{ rung_due_at|when }}, но обращение "
            "всё ещё ждёт её. Общий срок — до {{ due_at|when }}.",
        ),
        "kk": (
            "{{ reference }}: құжаттардың толықтығын тексеру мерзімі өтті",
            "{{ reference }} өтініші («{{ service|tr }}») бойынша құжаттардың толықтығын "
            "тексеруді {{ rung_due_at|when }} дейін аяқтау керек еді, бірақ өтініш әлі "
            "тексеруді күтіп тұр. Жалпы мерзімі — {{ due_at|when }} дейін.",
        ),
        "en": (
            "{{ reference }}: the completeness check is overdue",
            "The completeness check of request {{ reference }} (“{{ service|tr }}”) was due by "
            "{{ rung_due_at|when }}, and the request is still waiting for it. The request "
            "itself is due by {{ due_at|when }}.",
        ),
    },
    "escalation_approval": {
        "ru": (
            "{{ reference }}: срок согласования истёк",
            "Согласование по обращению {{ reference }} («{{ service|tr }}») нужно было "
            "завершить до {{ rung_due_at|when }}, но обращение всё ещё на согласовании. Общий "
            "срок — до {{ due_at|when }}.",
        ),
        "kk": (
            "{{ reference }}: келісу мерзімі өтті",
            "{{ reference }} өтініші («{{ service|tr }}») бойынша келісуді "
            "{{ rung_due_at|when }} дейін аяқтау керек еді, бірақ өтініш әлі келісуде. Жалпы "
            "мерзімі — {{ due_at|when }} дейін.",
        ),
        "en": (
            "{{ reference }}: approvals are overdue",
            "Approvals for request {{ reference }} (“{{ service|tr }}”) were due by "
            "{{ rung_due_at|when }}, and the request is still in approval. The request itself "
            "is due by {{ due_at|when }}.",
        ),
    },
    "escalation_head": {
        "ru": (
            "Просрочено в вашем отделе: {{ reference }}",
            "Обращение {{ reference }} («{{ service|tr }}») нужно было рассмотреть до "
            "{{ due_at|when }}, но оно всё ещё открыто.\n"
            "Ответственный сотрудник: {{ assignee or '—' }}.\n"
            "Пожалуйста, подтвердите эскалацию и укажите причину.",
        ),
        "kk": (
            "Бөліміңізде мерзімі өткен өтініш: {{ reference }}",
            "{{ reference }} өтінішін («{{ service|tr }}») {{ due_at|when }} дейін қарау керек "
            "еді, бірақ ол әлі ашық.\n"
            "Жауапты қызметкер: {{ assignee or '—' }}.\n"
            "Эскалацияны растап, себебін көрсетіңіз.",
        ),
        "en": (
            "Overdue in your department: {{ reference }}",
            "Request {{ reference }} (“{{ service|tr }}”) was due by {{ due_at|when }} and is "
            "still open.\nAccountable employee: {{ assignee or '—' }}.\n"
            "Please acknowledge this escalation with a reason.",
        ),
    },
    "escalation_supervisor": {
        "ru": (
            "Просрочка сохраняется после эскалации руководителю: {{ reference }}",
            "Обращение {{ reference }} («{{ service|tr }}», {{ department|tr }}) нужно было "
            "рассмотреть до {{ due_at|when }}. Руководитель отдела уведомлён, но обращение "
            "всё ещё открыто.\nОтветственный сотрудник: {{ assignee or '—' }}.",
        ),
        "kk": (
            "Бөлім басшысына хабарланғаннан кейін де мерзімі өтіп тұр: {{ reference }}",
            "{{ reference }} өтінішін («{{ service|tr }}», {{ department|tr }}) "
            "{{ due_at|when }} дейін қарау керек еді. Бөлім басшысына хабарланды, бірақ "
            "өтініш әлі ашық.\nЖауапты қызметкер: {{ assignee or '—' }}.",
        ),
        "en": (
            "Still overdue after the head was told: {{ reference }}",
            "Request {{ reference }} (“{{ service|tr }}”, {{ department|tr }}) was due by "
            "{{ due_at|when }}. The head of department was told, and it is still open.\n"
            "Accountable employee: {{ assignee or '—' }}.",
        ),
    },
    "reassigned": {
        "ru": (
            "Обращение {{ reference }} передано вам",
            "Обращение {{ reference }} («{{ service|tr }}») от заявителя {{ applicant }} "
            "передано вам. Срок — до {{ due_at|when }}."
            "{% if reason %}\nПричина: {{ reason }}{% endif %}",
        ),
        "kk": (
            "{{ reference }} өтініші сізге берілді",
            "{{ applicant }} өтініш берушінің {{ reference }} өтініші («{{ service|tr }}») "
            "сізге берілді. Мерзімі — {{ due_at|when }} дейін."
            "{% if reason %}\nСебебі: {{ reason }}{% endif %}",
        ),
        "en": (
            "Request {{ reference }} reassigned to you",
            "Request {{ reference }} (“{{ service|tr }}”) from {{ applicant }} is now yours. "
            "It is due by {{ due_at|when }}.{% if reason %}\nReason: {{ reason }}{% endif %}",
        ),
    },
    # To the employee a request was taken from (the head's reason is for staff only).
    "reassigned_away": {
        "ru": (
            "Обращение {{ reference }} передано другому сотруднику",
            "Обращение {{ reference }} («{{ service|tr }}») от заявителя {{ applicant }} "
            "передано сотруднику {{ assignee or '—' }}. Вы больше не отвечаете за него."
            "{% if reason %}\nПричина: {{ reason }}{% endif %}",
        ),
        "kk": (
            "{{ reference }} өтініші басқа қызметкерге берілді",
            "{{ applicant }} өтініш берушінің {{ reference }} өтініші («{{ service|tr }}») "
            "{{ assignee or '—' }} қызметкеріне берілді. Енді сіз оған жауапты емессіз."
            "{% if reason %}\nСебебі: {{ reason }}{% endif %}",
        ),
        "en": (
            "Request {{ reference }} moved to a colleague",
            "Request {{ reference }} (“{{ service|tr }}”) from {{ applicant }} is now handled "
            "by {{ assignee or '—' }}; you are no longer accountable for it."
            "{% if reason %}\nReason: {{ reason }}{% endif %}",
        ),
    },
    # To the applicant, who was told who is accountable: who is now (never why).
    "accountable_changed": {
        "ru": (
            "{{ reference }}: теперь за обращение отвечает {{ assignee or '—' }}",
            "За ваше обращение {{ reference }} («{{ service|tr }}») теперь отвечает "
            "{{ assignee or '—' }} ({{ department|tr }}). Срок — до {{ due_at|when }}.",
        ),
        "kk": (
            "{{ reference }}: жаңа жауапты қызметкер — {{ assignee or '—' }}",
            "Сіздің {{ reference }} өтінішіңізге («{{ service|tr }}») енді "
            "{{ assignee or '—' }} ({{ department|tr }}) жауап береді. Мерзімі — "
            "{{ due_at|when }} дейін.",
        ),
        "en": (
            "{{ reference }}: {{ assignee or '—' }} is now accountable for your request",
            "Your request {{ reference }} (“{{ service|tr }}”) is now handled by "
            "{{ assignee or '—' }} ({{ department|tr }}). It is due by {{ due_at|when }}.",
        ),
    },
    # --- accounts (portal/services/accounts.py, people.py): one-time links, email only ---
    "invitation": {
        "ru": (
            "Приглашение в Мөлдір",
            "{{ inviter }} приглашает вас в Мөлдір, портал услуг акимата: {{ role|tr }}"
            "{% if department %}, {{ department|tr }}{% endif %}.\n"
            "Чтобы войти, задайте свой пароль по ссылке ниже. Ссылка одноразовая и действует "
            "до {{ expires_at|when }}.",
        ),
        "kk": (
            "Мөлдірге шақыру",
            "{{ inviter }} сізді әкімдік қызметтерінің порталы Мөлдірге шақырады: {{ role|tr }}"
            "{% if department %}, {{ department|tr }}{% endif %}.\n"
            "Кіру үшін төмендегі сілтеме арқылы өз құпиясөзіңізді орнатыңыз. Сілтеме бір рет "
            "қолданылады және {{ expires_at|when }} дейін жарамды.",
        ),
        "en": (
            "Your invitation to Moldir",
            "{{ inviter }} invites you to Moldir, the city administration's service portal: "
            "{{ role|tr }}{% if department %}, {{ department|tr }}{% endif %}.\n"
            "To sign in, set your own password at the link below. The link works once, "
            "until {{ expires_at|when }}.",
        ),
    },
    "password_reset": {
        "ru": (
            "Сброс пароля в Мөлдір",
            "Кто-то (надеемся, вы) попросил сбросить пароль вашей учётной записи.\n"
            "Задайте новый пароль по ссылке ниже. Ссылка одноразовая и действует до "
            "{{ expires_at|when }}.\nЕсли вы не просили сброс, ничего не делайте: пароль "
            "останется прежним.",
        ),
        "kk": (
            "Мөлдірдегі құпиясөзді қалпына келтіру",
            "Біреу (сіз деп үміттенеміз) есептік жазбаңыздың құпиясөзін қалпына келтіруді "
            "сұрады.\nТөмендегі сілтеме арқылы жаңа құпиясөз орнатыңыз. Сілтеме бір рет "
            "қолданылады және {{ expires_at|when }} дейін жарамды.\nЕгер сіз сұрамасаңыз, "
            "ештеңе істемеңіз: құпиясөз өзгермейді.",
        ),
        "en": (
            "Resetting your Moldir password",
            "Someone (we hope you) asked to reset the password of your account.\n"
            "Set a new password at the link below. The link works once, until "
            "{{ expires_at|when }}.\nIf it was not you, do nothing: your password stays "
            "as it is.",
        ),
    },
    "email_change": {
        "ru": (
            "Подтвердите новый адрес в Мөлдір",
            "Вы попросили получать письма Мөлдір на этот адрес вместо прежнего.\n"
            "Подтвердите его по ссылке ниже (она одноразовая и действует до "
            "{{ expires_at|when }}). До подтверждения вход и письма остаются на прежнем "
            "адресе.",
        ),
        "kk": (
            "Мөлдірдегі жаңа мекенжайды растаңыз",
            "Сіз Мөлдір хаттарын бұрынғы мекенжайдың орнына осы мекенжайға алуды сұрадыңыз.\n"
            "Оны төмендегі сілтеме арқылы растаңыз (ол бір рет қолданылады және "
            "{{ expires_at|when }} дейін жарамды). Расталғанға дейін кіру мен хаттар бұрынғы "
            "мекенжайда қалады.",
        ),
        "en": (
            "Confirm your new address for Moldir",
            "You asked for Moldir's email to come to this address instead of the old one.\n"
            "Confirm it at the link below (it works once, until {{ expires_at|when }}). "
            "Until then, you sign in and get email at the old address.",
        ),
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    link: str

    @property
    def short(self) -> str:
        """One line for SMS: the subject and the link."""
        return f"{self.subject} {self.link}"


class TemplateError(Exception):
    """A message cannot be rendered (unknown template, broken context): it never will be."""


def _language(language: str) -> str:
    return language if language in LANGUAGES else "ru"


def _zone(timezone: str | None) -> str:
    if timezone:
        return timezone
    if has_app_context():
        return current_app.config.get("TIMEZONE") or config.DEFAULT_TIMEZONE
    return config.DEFAULT_TIMEZONE


def _when(value, language: str, zone: ZoneInfo) -> str:
    """An ISO instant as the akimat's wall clock reads it: '4 декабря 2026 г., 18:00'."""
    if not value or isinstance(value, jinja2.Undefined):
        return "—"
    if isinstance(value, str):
        try:
            # A bare date ("2026-12-01", the digest's day) reads as a date, not midnight.
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        local = value.astimezone(zone) if value.tzinfo else value
        return f"{format_date(local.date(), 'long', locale=language)}, " + format_time(
            local.time(), "HH:mm", locale=language
        )
    if isinstance(value, date):
        return format_date(value, "long", locale=language)
    return str(value)


def _tr(value, language: str) -> str:
    if isinstance(value, dict):
        return str(value.get(language) or value.get("ru") or next(iter(value.values()), ""))
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    return str(value)


def _bullets(items, language: str) -> str:
    lines = []
    for item in items or ():
        if isinstance(item, dict):
            name = _tr(item.get("names"), language) or str(
                item.get("document") or item.get("document_type") or ""
            )
            reason = item.get("reason")
            lines.append(f"- {name}: {reason}" if reason else f"- {name}")
        else:
            lines.append(f"- {item}")
    return "\n".join(lines)


@functools.cache
def _environment(language: str, timezone: str) -> jinja2.Environment:
    # Plain-text mail and SMS only, never HTML (no page renders these with |safe).
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=False)  # noqa: S701  # nosec B701
    zone = ZoneInfo(timezone)
    env.filters["when"] = lambda value: _when(value, language, zone)
    env.filters["tr"] = lambda value: _tr(value, language)
    env.filters["bullets"] = lambda items: _bullets(items, language)
    return env


@functools.cache
def _compiled(template: str, language: str, part: str, timezone: str) -> jinja2.Template:
    if template not in TEMPLATES:
        raise TemplateError(f"no template {template!r}")
    subject, body = TEMPLATES[template][language]
    source = {
        "subject": subject,
        "body": f"{GREETING[language]}\n\n{body}\n\n{FOOTER[language]}",
    }[part]
    return _environment(language, timezone).from_string(source)


def render_subject(template: str, language: str, context: dict, timezone: str | None = None) -> str:
    """The subject line alone (the inbox's line for a notice); times in `timezone` (by
    default the app's TIMEZONE)."""
    language = _language(language)
    try:
        return _compiled(template, language, "subject", _zone(timezone)).render(context).strip()
    except TemplateError:
        return template
    except Exception:  # an old notice with another shape of payload still gets a line
        return context.get("reference") or template


def render(
    template: str, language: str, context: dict, base_url: str, timezone: str | None = None
) -> Rendered:
    """Subject and body of one message in `language`, with the link to the request; times
    read on the wall clock of `timezone` (by default the app's TIMEZONE setting)."""
    language = _language(language)
    zone = _zone(timezone)
    link = base_url.rstrip("/") + (context.get("path") or "/")
    facts = {**context, "link": link}
    try:
        subject = _compiled(template, language, "subject", zone).render(facts).strip()
        body = _compiled(template, language, "body", zone).render(facts).strip() + "\n"
    except TemplateError:
        raise
    except Exception as error:
        raise TemplateError(f"{template}/{language}: {error}") from error
    return Rendered(subject=" ".join(subject.split()), body=body, link=link)
