"""The translation catalogs: complete, consistent with the code, and loadable.

Source strings (msgids) are English; Russian is the default language, Kazakh and English
are the others. A string wrapped in `_()` / `_l()` / `ngettext()` that is not in every
catalog, an empty or fuzzy translation, or a placeholder that differs between the English
and its translation, fails here with a list of what to fix.

The extraction below must use the same options as the Makefile's `extract` target.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from babel.support import Translations
from flask_babel import get_babel

from portal import create_app

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
LOCALES = ("ru", "kk", "en")
NPLURALS = {"ru": 3, "kk": 2, "en": 2}

# Keep in step with `make extract`.
EXTRACT_OPTIONS = [
    "--mapping-file=babel.cfg",
    "--keyword=_l",
    "--keyword=lazy_gettext",
    "--keyword=lazy_ngettext:1,2",
    "--add-comments=Translators:",
    "--add-location=file",
    "--sort-output",
    "--no-wrap",
    "--project=Moldir",
    "--copyright-holder=Moldir",
]

FIX_HINT = (
    "Run `make extract`, translate the new entries in "
    "portal/translations/{ru,kk,en}/LC_MESSAGES/messages.po (English: msgstr = msgid), "
    "then `make catalogs` to compile them."
)

# A printf-style conversion as Python's `%` operator reads it (flags, width, precision).
_CONVERSION = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]"
)


def catalog(lang: str) -> Catalog:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def messages(cat: Catalog) -> list[Message]:
    """Every real entry (not the header, not the obsolete ones)."""
    return [m for m in cat if m.id]


def key(message: Message) -> str | tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (list, tuple)) else message.id


def show(message_key) -> str:
    return " | ".join(message_key) if isinstance(message_key, tuple) else message_key


def forms(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, (list, tuple)):
        return tuple(s or "" for s in message.string)
    return (message.string or "",)


def placeholders(text: str) -> tuple[frozenset, Counter]:
    """(named placeholders, positional ones with their count); a stray `%` counts as one.

    Named ones may be reordered or repeated in a translation; positional ones may not.
    Jinja's newstyle gettext applies `%` to every template string, so a lone `%` breaks a
    page even where the English has no placeholder at all.
    """
    named: set[str] = set()
    positional: Counter = Counter()
    i = 0
    while (i := text.find("%", i)) != -1:
        match = _CONVERSION.match(text, i)
        if match is None:
            positional["<stray %>"] += 1
            i += 1
            continue
        token = match.group(0)
        if not token.endswith("%"):  # `%%` (or `% %`) is a literal percent sign
            if match.group("name") is not None:
                named.add(token)
            else:
                positional[token] += 1
        i = match.end()
    return frozenset(named), positional


def extracted_ids(tmp_path: Path) -> set:
    """The msgids in the code and templates today, extracted as `make extract` does."""
    pot = tmp_path / "messages.pot"
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            *EXTRACT_OPTIONS,
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"extraction failed:\n{result.stdout}\n{result.stderr}"
    with open(pot, "rb") as f:
        return {key(m) for m in messages(read_po(f))}


def compile_catalogs(tmp_path: Path) -> Path:
    """A copy of portal/translations, compiled as `make catalogs` does; returns its directory."""
    target = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, target, ignore=shutil.ignore_patterns("*.mo"))
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "compile",
            "-d",
            str(target),
            "--statistics",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"compiling failed:\n{output}"
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert not errors, f"compiling reported problems:\n{output}"
    for lang in LOCALES:
        assert (target / lang / "LC_MESSAGES" / "messages.mo").is_file(), (
            f"no {lang} .mo was written (a catalog marked fuzzy is skipped):\n{output}"
        )
    return target


def load(directory: Path, lang: str) -> Translations:
    translations = Translations.load(str(directory), [lang])
    assert isinstance(translations, Translations), f"no compiled {lang} catalog in {directory}"
    return translations


# (a) complete ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LOCALES)
def test_every_entry_is_translated_and_none_is_fuzzy(lang):
    cat = catalog(lang)
    assert messages(cat), f"the {lang} catalog is empty"
    assert not cat.fuzzy, f"the {lang} catalog header is marked fuzzy; compile would skip it"
    assert cat.num_plurals == NPLURALS[lang], (
        f"{lang} has nplurals={cat.num_plurals}, expected {NPLURALS[lang]} "
        f"(Plural-Forms: {cat.plural_forms})"
    )
    fuzzy = [show(key(m)) for m in messages(cat) if m.fuzzy]
    empty = []
    for message in messages(cat):
        texts = forms(message)
        expected = cat.num_plurals if message.pluralizable else 1
        if len(texts) != expected or not all(t.strip() for t in texts):
            empty.append(show(key(message)))
    problems = []
    if fuzzy:
        problems.append("fuzzy (check the translation, then drop the `#, fuzzy` line):")
        problems += [f"  {m}" for m in fuzzy]
    if empty:
        problems.append("untranslated or with a plural form missing:")
        problems += [f"  {m}" for m in empty]
    assert not problems, f"{lang} catalog:\n" + "\n".join(problems)


# (b) placeholders ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", LOCALES)
def test_placeholders_match_the_english(lang):
    cat = catalog(lang)
    wrong = []
    for message in messages(cat):
        if message.pluralizable:
            singular, plural = message.id
            expected_named = placeholders(singular)[0] | placeholders(plural)[0]
            expected_positional = placeholders(plural)[1]
        else:
            expected_named, expected_positional = placeholders(message.id)
        for index, text in enumerate(forms(message)):
            if not text:
                continue  # reported by the completeness test
            named, positional = placeholders(text)
            if named != expected_named or positional != expected_positional:
                where = f"msgstr[{index}]" if message.pluralizable else "msgstr"
                wrong.append(
                    f"  {show(key(message))}\n    {where}: {text}\n"
                    f"    expected {sorted(expected_named) + sorted(expected_positional)}, "
                    f"found {sorted(named) + sorted(positional)}"
                )
    assert not wrong, f"{lang}: placeholders differ from the English:\n" + "\n".join(wrong)


@pytest.mark.parametrize("lang", LOCALES)
def test_babel_checks_pass(lang):
    problems = [
        f"  {show(key(message))}: {'; '.join(str(e) for e in errors)}"
        for message, errors in catalog(lang).check()
    ]
    assert not problems, f"{lang}: Babel's catalog checks:\n" + "\n".join(problems)


# (c) nothing left out ------------------------------------------------------------------


def test_every_string_in_the_code_is_in_every_catalog(tmp_path):
    found = extracted_ids(tmp_path)
    # The extraction really covered Python (gettext, lazy_gettext, ngettext) and Jinja.
    for known in (
        "Not found",
        "on track",
        "Skip to content",
        ("%(num)d working day", "%(num)d working days"),
    ):
        assert known in found, f"extraction missed {known!r}: check babel.cfg and keywords"
    problems = []
    for lang in LOCALES:
        present = {key(m) for m in messages(catalog(lang))}
        missing = sorted(found - present, key=show)
        if missing:
            problems.append(f"missing from {lang}:")
            problems += [f"  {show(m)}" for m in missing]
    assert not problems, (
        "strings in the code that the catalogs do not have:\n"
        + "\n".join(problems)
        + f"\n{FIX_HINT}"
    )


# (d) compiled catalogs load ------------------------------------------------------------


def test_compiled_catalogs_translate(tmp_path):
    compiled = compile_catalogs(tmp_path)

    kk = load(compiled, "kk")
    assert kk.gettext("Log in") == "Кіру"
    assert kk.gettext("Accountable employee") == "Жауапты қызметкер"
    assert kk.ngettext("%(num)d working day", "%(num)d working days", 5) == "%(num)d жұмыс күні"

    ru = load(compiled, "ru")
    assert ru.gettext("Accountable employee") == "Ответственный сотрудник"
    day = ("%(num)d working day", "%(num)d working days")
    assert ru.ngettext(*day, 1) % {"num": 1} == "1 рабочий день"
    assert ru.ngettext(*day, 3) % {"num": 3} == "3 рабочих дня"
    assert ru.ngettext(*day, 11) % {"num": 11} == "11 рабочих дней"
    assert ru.ngettext(*day, 21) % {"num": 21} == "21 рабочий день"

    en = load(compiled, "en")
    assert en.gettext("Accountable employee") == "Accountable employee"


def test_compiled_catalogs_in_the_tree_are_current(tmp_path):
    """Where `make catalogs` has run, the .mo in portal/translations match the .po files."""
    compiled = compile_catalogs(tmp_path)
    for lang in LOCALES:
        if not (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").is_file():
            continue  # a fresh checkout: nothing compiled yet, nothing stale
        current = load(TRANSLATIONS, lang)._catalog == load(compiled, lang)._catalog
        assert current, (
            f"{lang}/LC_MESSAGES/messages.mo in portal/translations is out of date: "
            "run `make catalogs`"
        )


def test_the_app_speaks_the_chosen_language(tmp_path):
    """Flask-Babel finds the catalogs, and the language switch picks them."""
    compiled = compile_catalogs(tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'catalogs.db'}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "BABEL_TRANSLATION_DIRECTORIES": str(compiled),
        }
    )
    # One Babel() serves every app in the process and caches catalogs by locale only:
    # start from nothing, and leave nothing from this copy behind.
    with app.app_context():
        cache = get_babel().instance.domain_instance.cache
    cache.clear()
    try:
        client = app.test_client()
        _check_pages(client)
    finally:
        cache.clear()


def _check_pages(client):
    page = client.get("/").get_data(as_text=True)  # Russian unless asked otherwise
    assert "Войти" in page and "Регистрация" in page

    assert client.get("/lang/kk?next=/").status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert 'lang="kk"' in page
    assert "Кіру" in page and "Мөлдір" in page

    client.get("/lang/en?next=/")
    assert "Log in" in client.get("/").get_data(as_text=True)


def test_the_app_reads_portal_translations():
    """Without an override, Flask-Babel looks in portal/translations, where the .po live."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        directories = [Path(d).resolve() for d in get_babel().translation_directories]
    assert TRANSLATIONS.resolve() in directories
