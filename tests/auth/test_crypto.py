"""Tests for auth.crypto: published known-answer vectors first, then behaviour of both software backends.

The KATs pin the primitives to their standards (GB/T 32905 SM3, GB/T 32907 SM4, RFC 8998 SM4-GCM, FIPS 180 SHA-256)
so a later swap to a hardware module can be checked against the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from auth.crypto import (
    CryptoBackend,
    CryptoError,
    GmBackend,
    Keys,
    StandardBackend,
    hmac_equal,
    load_or_create_keys,
    make_backend,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
    verify_password,
)

FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # keeps the suite fast
GM_ITERATIONS = 1_000
PASSWORD = "correct horse battery staple"

# RFC 8998 appendix A.1 (SM4-GCM)
RFC8998_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
RFC8998_IV = bytes.fromhex("00001234567800000000ABCD")
RFC8998_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
RFC8998_PT = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
RFC8998_CT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
RFC8998_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def standard(keys: Keys) -> StandardBackend:
    return StandardBackend(keys, hasher=FAST_ARGON2)


@pytest.fixture
def gm(keys: Keys) -> GmBackend:
    return GmBackend(keys, iterations=GM_ITERATIONS)


@pytest.fixture(params=["standard", "gm"])
def backend(request: pytest.FixtureRequest, standard: StandardBackend, gm: GmBackend) -> CryptoBackend:
    return standard if request.param == "standard" else gm


def _other(backend: CryptoBackend, standard: StandardBackend, gm: GmBackend) -> CryptoBackend:
    return gm if backend.name == "standard" else standard


# --- known-answer tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_sm3_gbt32905_vectors(message: bytes, expected: str) -> None:
    assert GmBackend().digest(message) == expected


def test_sha256_fips180_vector() -> None:
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert StandardBackend().digest(b"abc") == expected


def _sm4_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def test_sm4_block_gbt32907_example1() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert _sm4_block(key, key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_rfc8998_vector_through_backend_primitive() -> None:
    sealed = sm4_gcm_encrypt(RFC8998_KEY, RFC8998_IV, RFC8998_PT, RFC8998_AAD)
    assert sealed == RFC8998_CT + RFC8998_TAG
    assert sm4_gcm_decrypt(RFC8998_KEY, RFC8998_IV, sealed, RFC8998_AAD) == RFC8998_PT


def _gf128_mul(x: int, y: int) -> int:
    """GF(2^128) product in GCM bit order (NIST SP 800-38D, algorithm 1)."""
    z, v = 0, y
    for bit in range(127, -1, -1):
        if (x >> bit) & 1:
            z ^= v
        v = (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1
    return z


def _pad16(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 16)


def test_rfc8998_vector_recomputed_from_sm4_block_and_python_ghash() -> None:
    """Rebuild GCM from the KAT-checked SM4 block and a pure-Python GHASH, independent of OpenSSL's GCM code."""
    counter_block = [_sm4_block(RFC8998_KEY, RFC8998_IV + n.to_bytes(4, "big")) for n in range(1, 6)]
    keystream = b"".join(counter_block[1:])
    assert bytes(p ^ k for p, k in zip(RFC8998_PT, keystream, strict=True)) == RFC8998_CT

    h = int.from_bytes(_sm4_block(RFC8998_KEY, bytes(16)), "big")
    lengths = (len(RFC8998_AAD) * 8).to_bytes(8, "big") + (len(RFC8998_CT) * 8).to_bytes(8, "big")
    ghash_input = _pad16(RFC8998_AAD) + _pad16(RFC8998_CT) + lengths
    s = 0
    for offset in range(0, len(ghash_input), 16):
        s = _gf128_mul(s ^ int.from_bytes(ghash_input[offset : offset + 16], "big"), h)
    tag = (s ^ int.from_bytes(counter_block[0], "big")).to_bytes(16, "big")
    assert tag == RFC8998_TAG


def test_sm4_gcm_decrypt_refuses_modified_tag_aad_and_short_input() -> None:
    sealed = RFC8998_CT + RFC8998_TAG
    with pytest.raises(CryptoError):
        sm4_gcm_decrypt(RFC8998_KEY, RFC8998_IV, sealed[:-1] + bytes([sealed[-1] ^ 1]), RFC8998_AAD)
    with pytest.raises(CryptoError):
        sm4_gcm_decrypt(RFC8998_KEY, RFC8998_IV, sealed, RFC8998_AAD + b"x")
    with pytest.raises(CryptoError):
        sm4_gcm_decrypt(RFC8998_KEY, RFC8998_IV, RFC8998_TAG[:8], RFC8998_AAD)


def test_hmac_sm3_two_implementations_agree() -> None:
    key, message = b"k" * 32, b"audit-record"
    via_hashlib = hmac.new(key, message, "sm3").digest()
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(message)
    assert via_hashlib == mac.finalize()
    assert len(via_hashlib) == 32


def _framed(value: str, context: str) -> bytes:
    ctx = context.encode()
    return len(ctx).to_bytes(4, "big") + ctx + value.encode()


def test_index_matches_independent_hmac(standard: StandardBackend, gm: GmBackend, keys: Keys) -> None:
    for backend, algorithm in ((standard, hashes.SHA256()), (gm, hashes.SM3())):
        mac = crypto_hmac.HMAC(keys.index_key, algorithm)
        mac.update(_framed("110105194912310021", "person.id_card"))
        assert backend.index("110105194912310021", "person.id_card") == mac.finalize().hex()


def test_pbkdf2_sm3_hashlib_matches_cryptography() -> None:
    salt = bytes(range(16))
    via_hashlib = hashlib.pbkdf2_hmac("sm3", b"password", salt, 1_000, 32)
    kdf = PBKDF2HMAC(algorithm=hashes.SM3(), length=32, salt=salt, iterations=1_000)
    assert via_hashlib == kdf.derive(b"password")


def test_gm_password_encoding_is_pbkdf2_hmac_sm3(gm: GmBackend) -> None:
    encoded = gm.hash_password(PASSWORD)
    empty, scheme, params, salt_b64, dk_b64 = encoded.split("$")
    assert (empty, scheme, params) == ("", "pbkdf2-sm3", f"i={GM_ITERATIONS}")
    salt = base64.urlsafe_b64decode(salt_b64 + "=" * (-len(salt_b64) % 4))
    dk = base64.urlsafe_b64decode(dk_b64 + "=" * (-len(dk_b64) % 4))
    assert len(salt) == 16 and len(dk) == 32
    kdf = PBKDF2HMAC(algorithm=hashes.SM3(), length=32, salt=salt, iterations=GM_ITERATIONS)
    assert kdf.derive(PASSWORD.encode()) == dk


# --- passwords ----------------------------------------------------------------------------------------------------


def test_password_roundtrip(backend: CryptoBackend) -> None:
    encoded = backend.hash_password(PASSWORD)
    assert encoded.isascii()
    assert backend.verify_password(encoded, PASSWORD)
    assert not backend.verify_password(encoded, PASSWORD + "!")
    assert not backend.verify_password(encoded, "")
    assert backend.hash_password(PASSWORD) != encoded  # random salt


def test_standard_default_parameters_are_argon2id() -> None:
    backend = StandardBackend()
    encoded = backend.hash_password(PASSWORD)
    assert encoded.startswith("$argon2id$")
    assert backend.verify_password(encoded, PASSWORD)
    assert not backend.needs_rehash(encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain",
        "$argon2id$junk",
        "$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA",
        "$pbkdf2-sm3$i=x$..$..",
        "$pbkdf2-sm3$i=1000$..$..",
        "$pbkdf2-sm3$i=0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$pbkdf2-sm3$i=999999999$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$pbkdf2-sm3$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
        "$pbkdf2-sm3$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$extra",
        "$pbkdf2-sm3$i=1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_encodings_verify_false_without_raising(
    encoded: str, standard: StandardBackend, gm: GmBackend
) -> None:
    assert verify_password(encoded, PASSWORD) is False
    assert standard.verify_password(encoded, PASSWORD) is False
    assert gm.verify_password(encoded, PASSWORD) is False
    assert standard.needs_rehash(encoded) and gm.needs_rehash(encoded)


def test_unencodable_password_is_false_not_an_exception(backend: CryptoBackend) -> None:
    assert backend.verify_password(backend.hash_password(PASSWORD), "\udcff") is False


def test_cross_profile_verification(standard: StandardBackend, gm: GmBackend) -> None:
    argon_hash, sm3_hash = standard.hash_password(PASSWORD), gm.hash_password(PASSWORD)
    assert gm.verify_password(argon_hash, PASSWORD)
    assert standard.verify_password(sm3_hash, PASSWORD)
    assert not gm.verify_password(argon_hash, "wrong")
    assert not standard.verify_password(sm3_hash, "wrong")


def test_needs_rehash_across_profiles_and_params(standard: StandardBackend, gm: GmBackend, keys: Keys) -> None:
    argon_hash, sm3_hash = standard.hash_password(PASSWORD), gm.hash_password(PASSWORD)
    assert not standard.needs_rehash(argon_hash)
    assert not gm.needs_rehash(sm3_hash)
    assert standard.needs_rehash(sm3_hash)
    assert gm.needs_rehash(argon_hash)
    assert GmBackend(keys, iterations=GM_ITERATIONS * 2).needs_rehash(sm3_hash)
    stronger = StandardBackend(keys, hasher=PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.needs_rehash(argon_hash)


def test_backend_parameter_validation() -> None:
    with pytest.raises(CryptoError):
        GmBackend(iterations=0)
    with pytest.raises(CryptoError, match="argon2id"):
        StandardBackend(hasher=PasswordHasher(type=Type.I))


# --- digests, field encryption, indexes ---------------------------------------------------------------------------


def test_digest_is_hex_of_expected_length(backend: CryptoBackend) -> None:
    value = backend.digest(b"")
    assert len(value) == 64 and int(value, 16) >= 0


@pytest.mark.parametrize("value", ["", "110105194912310021", "张三 / Zhang San", "x" * 5000])
def test_field_roundtrip(backend: CryptoBackend, value: str) -> None:
    token = backend.encrypt_field(value, "person.id_card")
    assert token.isascii()
    assert backend.decrypt_field(token, "person.id_card") == value


def test_token_format(standard: StandardBackend, gm: GmBackend) -> None:
    for backend, alg in ((standard, "aes256gcm"), (gm, "sm4gcm")):
        version, token_alg, nonce, body = backend.encrypt_field("abc", "person.phone").split(".")
        assert (version, token_alg, len(nonce), len(body)) == ("v1", alg, 16, 26)  # 12-byte nonce, 3+16 bytes


def test_same_value_encrypts_differently_but_indexes_equal(backend: CryptoBackend) -> None:
    first = backend.encrypt_field("13800138000", "person.phone")
    second = backend.encrypt_field("13800138000", "person.phone")
    assert first != second
    assert hmac_equal(backend.index("13800138000", "person.phone"), backend.index("13800138000", "person.phone"))


def test_every_single_character_change_is_rejected(backend: CryptoBackend) -> None:
    token = backend.encrypt_field("110105194912310021", "person.id_card")
    for position, char in enumerate(token):
        tampered = token[:position] + ("B" if char == "A" else "A") + token[position + 1 :]
        with pytest.raises(CryptoError):
            backend.decrypt_field(tampered, "person.id_card")


@pytest.mark.parametrize("token", ["", "v1", "v2.aes256gcm.AAAA.AAAA", "v1.aes256gcm..", "v1.sm4gcm..", "a.b.c.d.e"])
def test_malformed_tokens_are_rejected(backend: CryptoBackend, token: str) -> None:
    with pytest.raises(CryptoError):
        backend.decrypt_field(token, "person.id_card")


def test_truncated_ciphertext_is_rejected(backend: CryptoBackend) -> None:
    token = backend.encrypt_field("secret", "person.name")
    with pytest.raises(CryptoError):
        backend.decrypt_field(token[:-4], "person.name")
    head, _, _ = token.rpartition(".")
    with pytest.raises(CryptoError, match="length"):
        backend.decrypt_field(head + ".AAAA", "person.name")


def test_wrong_context_is_rejected(backend: CryptoBackend) -> None:
    token = backend.encrypt_field("110105194912310021", "person.id_card")
    with pytest.raises(CryptoError, match="authentication"):
        backend.decrypt_field(token, "person.phone")


def test_wrong_key_is_rejected(backend: CryptoBackend) -> None:
    token = backend.encrypt_field("110105194912310021", "person.id_card")
    other = type(backend)(Keys.generate())
    with pytest.raises(CryptoError, match="authentication"):
        other.decrypt_field(token, "person.id_card")


def test_token_of_other_algorithm_names_both(backend: CryptoBackend, standard: StandardBackend, gm: GmBackend) -> None:
    other = _other(backend, standard, gm)
    token = other.encrypt_field("110105194912310021", "person.id_card")
    with pytest.raises(CryptoError) as excinfo:
        backend.decrypt_field(token, "person.id_card")
    assert "aes256gcm" in str(excinfo.value) and "sm4gcm" in str(excinfo.value)


def test_index_is_keyed_and_separated_by_context(backend: CryptoBackend) -> None:
    value = backend.index("110105194912310021", "person.id_card")
    assert len(value) == 64 and value == backend.index("110105194912310021", "person.id_card")
    assert value != backend.index("110105194912310021", "visitor.id_card")
    assert value != type(backend)(Keys.generate()).index("110105194912310021", "person.id_card")
    assert backend.index("b", "a") != backend.index("", "ab")  # length framing: no context/value ambiguity


def test_keyless_backend_refuses_keyed_operations() -> None:
    for backend in (StandardBackend(), GmBackend(iterations=GM_ITERATIONS)):
        with pytest.raises(CryptoError, match="no keys"):
            backend.encrypt_field("x", "person.name")
        with pytest.raises(CryptoError, match="no keys"):
            backend.index("x", "person.name")


# --- key file and factory -----------------------------------------------------------------------------------------


def test_key_file_created_owner_only_even_with_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "nested" / "keys.json"
    old_umask = os.umask(0)
    try:
        keys = load_or_create_keys(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (len(keys.field_key), len(keys.sm4_key), len(keys.index_key)) == (32, 16, 32)
    assert set(json.loads(path.read_text())) == {"version", "field_key", "sm4_key", "index_key"}


def test_key_file_reused_on_second_load(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    assert load_or_create_keys(path) == load_or_create_keys(path)


def test_group_or_world_readable_key_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    load_or_create_keys(path)
    path.chmod(0o644)
    with pytest.raises(CryptoError) as excinfo:
        load_or_create_keys(path)
    assert str(path) in str(excinfo.value) and "chmod 600" in str(excinfo.value)


@pytest.mark.parametrize(
    "content", ["", "{}", "[]", '{"version": 1, "field_key": "AA", "sm4_key": "AA", "index_key": "AA"}']
)
def test_malformed_key_file_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    with pytest.raises(CryptoError, match="key"):
        load_or_create_keys(path)


def test_keys_never_in_repr(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path / "keys.json")
    stored = json.loads((tmp_path / "keys.json").read_text())
    text = repr(keys) + str(keys) + repr(make_backend("gm", tmp_path / "keys.json"))
    assert "redacted" in repr(keys)
    for secret in (keys.field_key, keys.sm4_key, keys.index_key):
        assert secret.hex() not in text and repr(secret) not in text
    assert not any(stored[name] in text for name in ("field_key", "sm4_key", "index_key"))


def test_unknown_profile_message_is_exact(tmp_path: Path) -> None:
    with pytest.raises(CryptoError) as excinfo:
        make_backend("x", tmp_path / "keys.json")
    assert str(excinfo.value) == "CRYPTO_PROFILE: expected standard or gm, got 'x'"
    assert not (tmp_path / "keys.json").exists()


def test_make_backend_builds_both_profiles_over_one_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    standard = make_backend("standard", path)
    gm = make_backend("gm", path, pbkdf2_iterations=GM_ITERATIONS)
    assert isinstance(standard, StandardBackend) and isinstance(standard, CryptoBackend)
    assert isinstance(gm, GmBackend) and isinstance(gm, CryptoBackend)
    assert (standard.name, gm.name, gm.iterations) == ("standard", "gm", GM_ITERATIONS)
    assert make_backend("gm", path).iterations == 100_000  # type: ignore[attr-defined]
    # a restarted process (fresh backend, same key file) reads what the previous one wrote
    token = gm.encrypt_field("张三", "person.name")
    assert make_backend("gm", path, pbkdf2_iterations=GM_ITERATIONS).decrypt_field(token, "person.name") == "张三"
