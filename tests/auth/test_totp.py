"""TOTP second factor: RFC 6238 vectors for the library, then our verify(), URI and QR code."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pyotp
import pytest

from auth import totp
from auth.totp import new_secret, provisioning_uri, qr_svg, verify

RFC_SECRET_ASCII = b"12345678901234567890"
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
NOW = datetime(2025, 6, 1, 8, 0, 10, tzinfo=UTC)  # 10 s into a 30 s step
STEP = int(NOW.timestamp()) // 30


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


# --- RFC 6238 Appendix B (SHA-1): proves the library we depend on is correct ------------------------------------


def test_rfc_secret_base32() -> None:
    assert base64.b32encode(RFC_SECRET_ASCII).decode() == RFC_SECRET


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_rfc6238_appendix_b_sha1(t: int, expected: str) -> None:
    assert pyotp.TOTP(RFC_SECRET, digits=8).at(t) == expected


def test_our_parameters_are_the_authenticator_defaults() -> None:
    assert (totp.STEP_SECONDS, totp.DIGITS) == (30, 6)
    uri = provisioning_uri(RFC_SECRET, "admin")
    assert "algorithm=" not in uri and "digits=" not in uri and "period=" not in uri  # defaults are implied


# --- secrets ----------------------------------------------------------------------------------------------------


def test_new_secret_is_160_bit_base32() -> None:
    secret = new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) == 20
    assert new_secret() != secret


# --- verify -----------------------------------------------------------------------------------------------------


def test_current_code_accepted_and_returns_its_step() -> None:
    assert verify(RFC_SECRET, code_at(RFC_SECRET, NOW), NOW, None) == STEP


def test_same_code_cannot_be_used_twice() -> None:
    code = code_at(RFC_SECRET, NOW)
    step = verify(RFC_SECRET, code, NOW, None)
    assert step == STEP
    assert verify(RFC_SECRET, code, NOW, step) is None
    assert verify(RFC_SECRET, code, NOW + timedelta(seconds=5), step) is None


def test_previous_step_code_accepted_within_window() -> None:
    previous = code_at(RFC_SECRET, NOW - timedelta(seconds=30))
    assert verify(RFC_SECRET, previous, NOW, None) == STEP - 1


def test_next_step_code_accepted_within_window() -> None:
    following = code_at(RFC_SECRET, NOW + timedelta(seconds=30))
    assert verify(RFC_SECRET, following, NOW, None) == STEP + 1


def test_code_two_steps_old_refused() -> None:
    old = code_at(RFC_SECRET, NOW - timedelta(seconds=60))
    assert verify(RFC_SECRET, old, NOW, None) is None
    assert verify(RFC_SECRET, old, NOW, None, window=2) == STEP - 2


def test_window_zero_accepts_only_current_step() -> None:
    previous = code_at(RFC_SECRET, NOW - timedelta(seconds=30))
    assert verify(RFC_SECRET, previous, NOW, None, window=0) is None
    assert verify(RFC_SECRET, code_at(RFC_SECRET, NOW), NOW, None, window=0) == STEP


def test_older_step_refused_after_newer_step_used() -> None:
    previous = code_at(RFC_SECRET, NOW - timedelta(seconds=30))
    assert verify(RFC_SECRET, previous, NOW, STEP) is None
    assert verify(RFC_SECRET, previous, NOW, STEP - 2) == STEP - 1


def test_spaces_are_stripped() -> None:
    code = code_at(RFC_SECRET, NOW)
    assert verify(RFC_SECRET, f" {code[:3]} {code[3:]} ", NOW, None) == STEP


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12a456", "abcdef", "12-456", "١٢٣٤٥٦", "123456\x00"])
def test_malformed_codes_refused(bad: str) -> None:
    assert verify(RFC_SECRET, bad, NOW, None) is None


def test_wrong_code_refused() -> None:
    window_codes = {code_at(RFC_SECRET, NOW + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in window_codes)
    assert verify(RFC_SECRET, wrong, NOW, None) is None


def test_code_of_another_secret_refused() -> None:
    other = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"  # base32 of b"abcdefghijklmnopqrst"
    assert verify(RFC_SECRET, code_at(other, NOW), NOW, None) is None
    assert verify(other, code_at(other, NOW), NOW, None) == STEP


def test_too_short_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        verify("JBSWY3DPEHPK3PXP", "123456", NOW, None)  # 80 bits: below pyotp's 112-bit floor


def test_verify_refuses_naive_now() -> None:
    with pytest.raises(ValueError):
        verify(RFC_SECRET, "123456", datetime(2025, 1, 1), None)


# --- enrolment --------------------------------------------------------------------------------------------------


def test_provisioning_uri_contains_issuer_and_account_url_encoded() -> None:
    uri = provisioning_uri(RFC_SECRET, "zhang.san@jiguan.gov.cn")
    issuer = quote("智慧机关事务")
    assert uri.startswith(f"otpauth://totp/{issuer}:{quote('zhang.san@jiguan.gov.cn')}?")
    assert "zhang.san%40jiguan.gov.cn" in uri
    assert f"issuer={issuer}" in uri
    assert f"secret={RFC_SECRET}" in uri


def test_provisioning_uri_custom_issuer_and_chinese_account() -> None:
    uri = provisioning_uri(RFC_SECRET, "张三 admin", issuer="指挥中心")
    assert f"otpauth://totp/{quote('指挥中心')}:{quote('张三 admin')}?" in uri
    assert "张" not in uri and " " not in uri


@pytest.mark.parametrize(("account", "issuer"), [("", "x"), ("a:b", "x"), ("a", "x:y")])
def test_provisioning_uri_refuses_bad_labels(account: str, issuer: str) -> None:
    with pytest.raises(ValueError):
        provisioning_uri(RFC_SECRET, account, issuer=issuer)


def test_qr_svg_is_inline_svg_without_external_references() -> None:
    svg = qr_svg(provisioning_uri(RFC_SECRET, "admin"))
    assert isinstance(svg, str)
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert svg.replace("http://www.w3.org/2000/svg", "").find("http") == -1
    assert "<image" not in svg and "href" not in svg
