"""RFC 6238 time-based one-time passwords: the administrators' second factor.

Pure logic on top of pyotp (30-second step, 6 digits, SHA-1: what ordinary authenticator apps use).
The clock is passed in, and the last accepted time step is kept by the caller (database or Redis),
which is how a code is refused the second time it is presented.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

import pyotp
import segno

__all__ = ["DEFAULT_ISSUER", "DIGITS", "STEP_SECONDS", "new_secret", "provisioning_uri", "qr_svg", "verify"]

DEFAULT_ISSUER = "智慧机关事务"
STEP_SECONDS = 30
DIGITS = 6
SECRET_CHARS = 32  # 32 base32 characters = 160 bits, the HMAC-SHA-1 key size RFC 4226 recommends
_CODE = re.compile(r"[0-9]{6}")


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, digest=hashlib.sha1, interval=STEP_SECONDS)


def new_secret() -> str:
    """Create a fresh 160-bit base32 secret for one administrator's enrolment."""
    return pyotp.random_base32(length=SECRET_CHARS)


def provisioning_uri(secret: str, account: str, issuer: str = DEFAULT_ISSUER) -> str:
    """Build the otpauth:// URI an authenticator app scans; the issuer labels the entry in the app."""
    if not account.strip():
        raise ValueError("provisioning_uri: account must not be empty")
    if ":" in account or ":" in issuer:
        raise ValueError("provisioning_uri: account and issuer must not contain ':' (the label separator)")
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """Render the URI as an inline SVG QR code, so enrolment needs no image library and no network."""
    qr = segno.make(uri, error="m")
    return qr.svg_inline(scale=4, dark="#000000", light="#ffffff")


def verify(secret: str, code: str, now: datetime, last_used_step: int | None, window: int = 1) -> int | None:
    """Check a code and return its time step, or None; a step <= last_used_step is refused (no replay).

    Codes of the current step and of ``window`` steps either side are accepted to absorb clock drift.
    Every candidate is compared in constant time and the loop never exits early, so timing reveals
    nothing about which step (if any) matched.
    """
    if now.tzinfo is None:
        raise ValueError("verify: now must be timezone-aware (UTC)")
    if window < 0:
        raise ValueError("verify: window must be >= 0")
    candidate = "".join(code.split())
    if not _CODE.fullmatch(candidate):
        return None
    totp = _totp(secret)
    current = totp.timecode(now)
    matched: int | None = None
    for step in range(current - window, current + window + 1):
        if step < 0:
            continue
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii")):
            if last_used_step is None or step > last_used_step:
                matched = step  # the latest unused step wins, so the stored step never moves backwards
    return matched
