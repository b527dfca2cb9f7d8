"""Password policy: both profiles, exact bilingual messages, common list, expiry boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auth import passwords
from auth.passwords import (
    ExpiryState,
    PasswordPolicy,
    PolicyProfile,
    Problem,
    check_password,
    common_passwords,
    expiry_state,
    policy_for,
)

MLPS = policy_for("mlps")
ASVS = policy_for("asvs")
GOOD_MLPS = "Tq7#vLp2"  # 8 chars, 4 classes, not common
CHINESE_PASSPHRASE = "我家门前的两棵枣树今年结了很多果子"
NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def only(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, problems
    return found[0]


# --- profiles ---------------------------------------------------------------------------------------------------


def test_mlps_profile_numbers() -> None:
    assert MLPS == PasswordPolicy(
        profile=PolicyProfile.MLPS, min_length=8, classes_required=3, expiry_days=90, warn_days=7, history=5
    )
    assert MLPS.max_length == 128


def test_asvs_profile_numbers() -> None:
    assert ASVS.profile is PolicyProfile.ASVS
    assert (ASVS.min_length, ASVS.classes_required, ASVS.expiry_days, ASVS.history) == (12, 0, None, 0)
    assert ASVS.max_length == 128


def test_default_profile_is_mlps() -> None:
    assert passwords.DEFAULT_PROFILE is PolicyProfile.MLPS
    assert policy_for(PolicyProfile.MLPS) is MLPS
    assert policy_for(" ASVS ") is ASVS


def test_unknown_profile_message_exact() -> None:
    with pytest.raises(ValueError) as excinfo:
        policy_for("x")
    assert str(excinfo.value) == "PASSWORD_POLICY: expected mlps or asvs, got 'x'"


def test_policies_are_frozen() -> None:
    with pytest.raises(AttributeError):
        MLPS.min_length = 4  # type: ignore[misc]


# --- exact messages ---------------------------------------------------------------------------------------------


def test_too_short_message_mlps() -> None:
    problem = only(check_password("Tq7#vL", MLPS), "too_short")
    assert problem == Problem("too_short", "密码至少需要 8 个字符", "Password must have at least 8 characters")


def test_too_short_message_asvs() -> None:
    problem = only(check_password(GOOD_MLPS, ASVS), "too_short")
    assert problem == Problem("too_short", "密码至少需要 12 个字符", "Password must have at least 12 characters")


@pytest.mark.parametrize("policy", [MLPS, ASVS], ids=["mlps", "asvs"])
def test_too_long_message(policy: PasswordPolicy) -> None:
    problem = only(check_password("Tq7#vLp2" * 16 + "x", policy), "too_long")
    assert problem == Problem("too_long", "密码不能超过 128 个字符", "Password must have at most 128 characters")


@pytest.mark.parametrize("policy", [MLPS, ASVS], ids=["mlps", "asvs"])
def test_exactly_128_characters_is_accepted(policy: PasswordPolicy) -> None:
    assert check_password("Tq7#vLp2" * 16, policy) == []


def test_too_few_classes_message_mlps() -> None:
    problem = only(check_password("tq7vlpzk", MLPS), "too_few_classes")
    assert problem == Problem(
        "too_few_classes",
        "密码需要包含小写字母、大写字母、数字、符号这四类中的至少 3 类",
        "Password must contain at least 3 of these 4 character classes: "
        "lower-case letters, upper-case letters, digits, symbols",
    )


def test_common_message() -> None:
    problem = only(check_password("Password1!", MLPS), "common")
    assert problem == Problem(
        "common", "密码过于常见，容易被猜中，请换一个", "Password is too common and easy to guess; choose another one"
    )


def test_contains_username_message() -> None:
    problem = only(check_password("Xx-ZhangSan-42", MLPS, username="zhangsan"), "contains_username")
    assert problem == Problem("contains_username", "密码不能包含用户名", "Password must not contain the username")


def test_reused_message_mlps() -> None:
    problem = only(check_password(GOOD_MLPS, MLPS, reused=True), "reused")
    assert problem == Problem(
        "reused", "不能使用最近 5 次用过的密码", "Password must not be one of your last 5 passwords"
    )


def test_reuse_is_not_a_problem_without_history() -> None:
    assert check_password("correct horse battery staple", ASVS, reused=True) == []


def test_every_problem_is_returned_at_once() -> None:
    problems = check_password("admin", MLPS, username="admin", reused=True)
    assert codes(problems) == ["too_short", "too_few_classes", "common", "contains_username", "reused"]


# --- classes and lengths ----------------------------------------------------------------------------------------


def test_four_class_eight_chars_accepted_in_mlps_refused_in_asvs() -> None:
    assert check_password(GOOD_MLPS, MLPS) == []
    assert codes(check_password(GOOD_MLPS, ASVS)) == ["too_short"]


@pytest.mark.parametrize("password", ["tq7vlpzk9", "Tq7vLpzkW", "tq#vlp-zk", "TQ7#VLP2"])
def test_three_of_four_classes_boundary(password: str) -> None:
    expected = [] if password in ("Tq7vLpzkW", "TQ7#VLP2") else ["too_few_classes"]
    assert codes(check_password(password, MLPS)) == expected


def test_long_chinese_passphrase_accepted_in_asvs() -> None:
    assert len(CHINESE_PASSPHRASE) >= 12
    assert check_password(CHINESE_PASSPHRASE, ASVS) == []


def test_length_is_counted_in_characters_not_bytes() -> None:
    passphrase = "长城长江黄河泰山华山嵩山"  # 12 characters, 36 UTF-8 bytes
    assert check_password(passphrase, ASVS) == []
    assert codes(check_password(passphrase[:11], ASVS)) == ["too_short"]


def test_asvs_has_no_composition_rules() -> None:
    assert check_password("correct horse battery staple", ASVS) == []


# --- common list ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["123456", "password", "qwerty", "woaini1314", "5201314", "a123456", "1qaz2wsx", "jiguan@123", "zhengfu2025!"],
)
@pytest.mark.parametrize("policy", [MLPS, ASVS], ids=["mlps", "asvs"])
def test_common_refused_in_both_profiles(password: str, policy: PasswordPolicy) -> None:
    assert "common" in codes(check_password(password, policy))


@pytest.mark.parametrize(
    "password", ["Admin@123", "P@ssw0rd", "PASSWORD", "PaSsWoRd", "Passw0rd", "Qwer1234", "1qaz@WSX", "Abc@123"]
)
def test_common_lookup_is_case_insensitive(password: str) -> None:
    assert "common" in codes(check_password(password, MLPS))


@pytest.mark.parametrize("password", ["password1!", "Password1!", "Dragon2!", "Monkey!!", "sunshine#123", "qwerty99"])
def test_common_word_with_short_suffix_refused(password: str) -> None:
    assert "common" in codes(check_password(password, MLPS))


def test_common_word_with_long_suffix_is_not_common() -> None:
    assert "common" not in codes(check_password("Sunshine#7294!", MLPS))


def test_uncommon_password_not_flagged() -> None:
    assert "common" not in codes(check_password("Lv9$mQe2Rk", MLPS))


# --- username ---------------------------------------------------------------------------------------------------


def test_username_containment_is_case_insensitive() -> None:
    assert "contains_username" in codes(check_password("Kx9!WANGwei#7", MLPS, username="WangWei"))


def test_short_username_is_not_checked() -> None:
    assert check_password("Tq7#vLp2ab", MLPS, username="ab") == []


def test_password_without_username_ok() -> None:
    assert check_password(GOOD_MLPS, MLPS, username="zhangsan") == []


# --- expiry -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (0, ExpiryState(expired=False, warn=False, days_left=90)),
        (82, ExpiryState(expired=False, warn=False, days_left=8)),
        (83, ExpiryState(expired=False, warn=True, days_left=7)),
        (89, ExpiryState(expired=False, warn=True, days_left=1)),
        (90, ExpiryState(expired=True, warn=False, days_left=0)),
        (400, ExpiryState(expired=True, warn=False, days_left=0)),
    ],
)
def test_mlps_expiry_boundaries(day: int, state: ExpiryState) -> None:
    changed_at = NOW - timedelta(days=day)
    assert expiry_state(changed_at, NOW, MLPS) == state


def test_mlps_expiry_one_second_before_and_at_deadline() -> None:
    changed_at = NOW - timedelta(days=90) + timedelta(seconds=1)
    assert expiry_state(changed_at, NOW, MLPS) == ExpiryState(expired=False, warn=True, days_left=1)
    assert expiry_state(changed_at, NOW + timedelta(seconds=1), MLPS).expired is True


def test_asvs_never_expires() -> None:
    changed_at = NOW - timedelta(days=3650)
    assert expiry_state(changed_at, NOW, ASVS) == ExpiryState(expired=False, warn=False, days_left=None)


def test_expiry_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        expiry_state(datetime(2025, 1, 1), NOW, MLPS)


# --- the list file ----------------------------------------------------------------------------------------------


def _file_entries() -> list[str]:
    text = passwords.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_list_file_size_case_and_uniqueness() -> None:
    entries = _file_entries()
    assert 3000 <= len(entries) <= 20000
    assert all(entry == entry.lower() for entry in entries)
    assert all(entry == entry.strip() for entry in entries)
    assert len(entries) == len(set(entries))
    assert entries == sorted(entries)


def test_list_file_has_comment_header() -> None:
    text = passwords.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    assert text.startswith("#")


def test_common_passwords_loaded_once_as_frozenset() -> None:
    loaded = passwords.COMMON_PASSWORDS
    assert isinstance(loaded, frozenset)
    assert loaded is common_passwords()
    assert loaded == frozenset(_file_entries())
    assert {"admin@123", "p@ssw0rd", "woaini1314", "wang123456"} <= loaded
