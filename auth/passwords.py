"""Password policy with two profiles: MLPS 2.0 level 3 (default) and OWASP ASVS 5.0.

Pure logic: no storage, no hashing, no clock. The caller checks the password history with its hash
verifier and passes ``reused=True``; the caller passes ``now`` into :func:`expiry_state`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

__all__ = [
    "COMMON_PASSWORDS",
    "ExpiryState",
    "PasswordPolicy",
    "PolicyProfile",
    "Problem",
    "check_password",
    "common_passwords",
    "expiry_state",
    "policy_for",
]

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
MAX_LENGTH = 128  # bounds the cost of hashing an attacker-chosen password
MAX_STRIPPED_SUFFIX = 4  # "password1!" is "password" plus a 2-char suffix: still refused
MIN_USERNAME_LENGTH = 3  # shorter user names would match too many honest passwords

COMMON_PASSWORDS: frozenset[str]  # lazily provided by __getattr__ below


class PolicyProfile(StrEnum):
    """Which standard the deployment is assessed against; MLPS is the default for government systems."""

    MLPS = "mlps"  # GB/T 22239-2019 level 3: composition rules, periodic rotation, history
    ASVS = "asvs"  # OWASP ASVS 5.0: length over composition, no forced rotation


DEFAULT_PROFILE = PolicyProfile.MLPS


@dataclass(frozen=True)
class PasswordPolicy:
    """The numbers of one profile, kept in one value so the UI, the checker and the audit agree."""

    profile: PolicyProfile
    min_length: int
    classes_required: int  # of the 4 classes: lower, upper, digit, symbol
    expiry_days: int | None  # None = no forced rotation
    warn_days: int
    history: int  # how many previous passwords may not be reused
    max_length: int = MAX_LENGTH


_POLICIES: dict[PolicyProfile, PasswordPolicy] = {
    PolicyProfile.MLPS: PasswordPolicy(
        profile=PolicyProfile.MLPS, min_length=8, classes_required=3, expiry_days=90, warn_days=7, history=5
    ),
    PolicyProfile.ASVS: PasswordPolicy(
        profile=PolicyProfile.ASVS, min_length=12, classes_required=0, expiry_days=None, warn_days=0, history=0
    ),
}


def policy_for(profile: str) -> PasswordPolicy:
    """Return the policy of a profile name from configuration; fail loudly on a typo rather than weaken it."""
    key = str(profile).strip().lower()
    try:
        return _POLICIES[PolicyProfile(key)]
    except ValueError:
        raise ValueError(f"PASSWORD_POLICY: expected mlps or asvs, got {profile!r}") from None


@dataclass(frozen=True)
class Problem:
    """One reason a password is refused, with a stable code for logic and both languages for people."""

    code: str
    zh: str
    en: str


@functools.cache
def common_passwords() -> frozenset[str]:
    """Load the common-password list once, on first use, so importing the module stays cheap."""
    entries: set[str] = set()
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith("#"):
                entries.add(line.lower())
    return frozenset(entries)


def __getattr__(name: str) -> frozenset[str]:
    """Expose ``COMMON_PASSWORDS`` as a lazily loaded module attribute (PEP 562)."""
    if name == "COMMON_PASSWORDS":
        return common_passwords()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _classes(password: str) -> int:
    """Count the character classes present. Caseless letters (e.g. Chinese) count for length, not class."""
    lower = any(ch.islower() for ch in password)
    upper = any(ch.isupper() for ch in password)
    digit = any(ch.isdecimal() for ch in password)
    symbol = any(not ch.isalnum() for ch in password)
    return lower + upper + digit + symbol


def _is_common(password: str) -> bool:
    """Case-insensitive lookup, also catching a listed word with a short digit/symbol tail ("password1!")."""
    common = common_passwords()
    lowered = password.lower()
    if lowered in common:
        return True
    stripped = lowered
    while stripped and (stripped[-1].isdecimal() or not stripped[-1].isalnum()):
        stripped = stripped[:-1]
    suffix_length = len(lowered) - len(stripped)
    return 0 < suffix_length <= MAX_STRIPPED_SUFFIX and stripped in common


def check_password(password: str, policy: PasswordPolicy, *, username: str = "", reused: bool = False) -> list[Problem]:
    """Return every problem at once (empty = acceptable) so the user can fix them all in one attempt."""
    problems: list[Problem] = []
    length = len(password)  # characters, not bytes: a Chinese passphrase counts per character
    if length < policy.min_length:
        problems.append(
            Problem(
                "too_short",
                f"密码至少需要 {policy.min_length} 个字符",
                f"Password must have at least {policy.min_length} characters",
            )
        )
    if length > policy.max_length:
        problems.append(
            Problem(
                "too_long",
                f"密码不能超过 {policy.max_length} 个字符",
                f"Password must have at most {policy.max_length} characters",
            )
        )
    if _classes(password) < policy.classes_required:
        problems.append(
            Problem(
                "too_few_classes",
                f"密码需要包含小写字母、大写字母、数字、符号这四类中的至少 {policy.classes_required} 类",
                f"Password must contain at least {policy.classes_required} of these 4 character classes: "
                "lower-case letters, upper-case letters, digits, symbols",
            )
        )
    if _is_common(password):
        problems.append(
            Problem(
                "common",
                "密码过于常见，容易被猜中，请换一个",
                "Password is too common and easy to guess; choose another one",
            )
        )
    name = username.strip().lower()
    if len(name) >= MIN_USERNAME_LENGTH and name in password.lower():
        problems.append(Problem("contains_username", "密码不能包含用户名", "Password must not contain the username"))
    if reused and policy.history > 0:
        problems.append(
            Problem(
                "reused",
                f"不能使用最近 {policy.history} 次用过的密码",
                f"Password must not be one of your last {policy.history} passwords",
            )
        )
    return problems


@dataclass(frozen=True)
class ExpiryState:
    """Where a password stands in its rotation cycle; days_left is None when the profile never expires."""

    expired: bool
    warn: bool
    days_left: int | None


def expiry_state(changed_at: datetime, now: datetime, policy: PasswordPolicy) -> ExpiryState:
    """Decide whether to force a change (expired) or nag (warn); the clock comes in so tests can pin it."""
    if changed_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("expiry_state: changed_at and now must be timezone-aware (UTC)")
    if policy.expiry_days is None:
        return ExpiryState(expired=False, warn=False, days_left=None)
    expires_at = changed_at + timedelta(days=policy.expiry_days)
    if now >= expires_at:
        return ExpiryState(expired=True, warn=False, days_left=0)
    remaining = expires_at - now
    days_left = remaining.days + (1 if remaining % timedelta(days=1) else 0)  # round partial days up
    warn = remaining <= timedelta(days=policy.warn_days)
    return ExpiryState(expired=False, warn=warn, days_left=days_left)
