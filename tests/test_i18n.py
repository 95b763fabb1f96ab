"""The two locale files: the same keys, the same formatting fields; keys the code uses exist."""

import re
from pathlib import Path

import pytest

from seqcompare import UserError, i18n

PACKAGE = Path(i18n.__file__).parent


def test_both_languages_have_the_same_keys():
    en, zh = i18n.words("en"), i18n.words("zh-CN")
    assert set(en) - set(zh) == set(), "keys missing from zh-CN.yaml"
    assert set(zh) - set(en) == set(), "keys missing from en.yaml"


def test_formatting_fields_match_between_translations():
    en, zh = i18n.words("en"), i18n.words("zh-CN")
    differ = {k: (i18n.fields(en[k]), i18n.fields(zh[k])) for k in en if i18n.fields(en[k]) != i18n.fields(zh[k])}
    assert differ == {}


def test_every_key_the_code_uses_exists():
    pattern = re.compile(r"""\b(?:t|L|UserError|Message|said)\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
    used = {(path.relative_to(PACKAGE), key) for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"
            for key in pattern.findall(path.read_text(encoding="utf-8"))}
    missing = sorted((str(p), k) for p, k in used if not i18n.has(k))
    assert missing == []


@pytest.mark.parametrize("code, lang", [("zh-CN", "zh-CN"), ("zh-TW", "zh-CN"), ("zh", "zh-CN"),
                                        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en-US,en;q=0.9", "en"),
                                        ("fr-FR", "en"), ("", "en"), (None, "en")])
def test_language_follows_the_code(code, lang):
    assert i18n.language(code) == lang


def test_a_user_error_is_said_in_either_language():
    assert UserError("language.name").render("zh-CN") == "中文"
    assert str(UserError("language.name")) == "English"
    assert str(UserError("a plain sentence, no key")) == "a plain sentence, no key"


def test_an_unknown_key_names_itself():
    with pytest.raises(KeyError, match="no.such.key"):
        i18n.t("no.such.key", "en")
