"""All cryptography behind one small interface (MLPS 2.0 level 3, GB/T 39786 commercial-cryptography profile).

Why: callers only see ``CryptoBackend``, so a certified hardware crypto module can replace these software backends
later. ``CRYPTO_PROFILE`` picks ``standard`` (argon2id, SHA-256, AES-256-GCM, HMAC-SHA256) or ``gm`` (PBKDF2-HMAC-SM3,
SM3, SM4-GCM, HMAC-SM3). Encodings are self-describing ASCII, so stored data survives a profile change
(base64 below is unpadded base64url, decoded canonically):

* argon2id password: argon2-cffi's PHC string ``$argon2id$v=19$m=<KiB>,t=<n>,p=<n>$<salt>$<hash>``.
* PBKDF2-HMAC-SM3 password: ``$pbkdf2-sm3$i=<iterations>$<b64 16-byte salt>$<b64 32-byte key>``.
* Field token: ``v1.<alg>.<b64 12-byte nonce>.<b64 ciphertext||16-byte tag>``, alg ``aes256gcm`` or ``sm4gcm``;
  the caller's context (UTF-8, e.g. ``person.id_card``) is the AEAD associated data.
* Index: hex HMAC of ``len(context) as 4-byte big-endian || context || value`` (UTF-8): no cross-context collisions.
* Key file: JSON ``{"version": 1, "field_key", "sm4_key", "index_key"}`` (b64): 32-byte AES-256 key, a separate
  16-byte SM4 key (no key is used under two ciphers) and a 32-byte HMAC key for indexes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from argon2 import PasswordHasher, Type
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ARGON2_PREFIX = "$argon2id$"
PBKDF2_SM3_PREFIX = "$pbkdf2-sm3$"
TOKEN_VERSION = "v1"
DEFAULT_PBKDF2_ITERATIONS = 100_000
MAX_PBKDF2_ITERATIONS = 10_000_000  # a crafted encoding must not turn one login into minutes of CPU
_SALT_LEN = 16
_DK_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16
_ARGON2_VERIFIER = PasswordHasher()  # verify() takes its parameters from the encoded hash itself


class CryptoError(Exception):
    """One exception type for every cryptographic refusal, whichever backend (or hardware module) raised it."""


@runtime_checkable
class CryptoBackend(Protocol):
    """The only cryptographic surface callers use, so a hardware module can implement it later."""

    name: str

    def hash_password(self, password: str) -> str: ...
    def verify_password(self, encoded: str, password: str) -> bool: ...
    def needs_rehash(self, encoded: str) -> bool: ...
    def digest(self, data: bytes) -> str: ...
    def encrypt_field(self, plaintext: str, context: str) -> str: ...
    def decrypt_field(self, token: str, context: str) -> str: ...
    def index(self, value: str, context: str) -> str: ...


def hmac_equal(a: bytes | str, b: bytes | str) -> bool:
    """Constant-time equality, so comparing secrets or digests leaks no timing about where they differ."""
    return hmac.compare_digest(a, b)


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(raw) != text:  # rejects stray characters and non-zero padding bits
        raise ValueError("non-canonical base64url")
    return raw


@dataclass(frozen=True, repr=False)
class Keys:
    """Secret key material loaded from a protected file; repr is redacted so keys never reach logs or tracebacks."""

    field_key: bytes  # 32 bytes, AES-256-GCM
    sm4_key: bytes  # 16 bytes, SM4-GCM
    index_key: bytes  # 32 bytes, HMAC key for equality-lookup indexes

    def __post_init__(self) -> None:
        if (len(self.field_key), len(self.sm4_key), len(self.index_key)) != (32, 16, 32):
            raise CryptoError("keys: expected a 32-byte field_key, a 16-byte sm4_key and a 32-byte index_key")

    def __repr__(self) -> str:
        return "Keys(<redacted>)"

    @classmethod
    def generate(cls) -> Keys:
        """Fresh keys from the OS CSPRNG, for a new deployment (or a test)."""
        return cls(secrets.token_bytes(32), secrets.token_bytes(16), secrets.token_bytes(32))


def _create_key_file(path: Path, keys: Keys) -> bool:
    """Write keys to a new owner-only file; False if another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:  # O_EXCL + mode at creation: the file is never world-readable, not even briefly
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    body = {"version": 1, "field_key": _b64e(keys.field_key), "sm4_key": _b64e(keys.sm4_key)}
    body["index_key"] = _b64e(keys.index_key)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def load_or_create_keys(path: Path) -> Keys:
    """Load the deployment's keys, creating them on first start; refuse a key file that group/others can access."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        keys = Keys.generate()
        if _create_key_file(path, keys):
            return keys
        mode = path.stat().st_mode  # lost a creation race: use the winner's file
    if mode & 0o077:
        raise CryptoError(
            f"key file {path} is accessible by group or others (mode {mode & 0o777:o}); fix it with: chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != 1:
            raise ValueError("unsupported version")
        return Keys(_b64d(data["field_key"]), _b64d(data["sm4_key"]), _b64d(data["index_key"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # from None: a chained JSON error would carry the whole document, keys included
        raise CryptoError(f"key file {path} is unreadable or malformed ({type(exc).__name__})") from None


def _pbkdf2_sm3(password: str, salt: bytes, iterations: int, dklen: int = _DK_LEN) -> bytes:
    return hashlib.pbkdf2_hmac("sm3", password.encode("utf-8"), salt, iterations, dklen)


def _parse_pbkdf2_sm3(encoded: str) -> tuple[int, bytes, bytes]:
    """Split ``$pbkdf2-sm3$i=<n>$<salt>$<hash>`` into its parts; ValueError on anything malformed."""
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 5 or parts[0] or parts[1] != "pbkdf2-sm3" or not parts[2].startswith("i="):
        raise ValueError("not a pbkdf2-sm3 encoding")
    digits = parts[2][2:]
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0") or len(digits) > 9:
        raise ValueError("bad iteration count")
    iterations, salt, dk = int(digits), _b64d(parts[3]), _b64d(parts[4])
    if iterations > MAX_PBKDF2_ITERATIONS or len(salt) < 8 or len(dk) != _DK_LEN:
        raise ValueError("pbkdf2-sm3 parameters out of range")
    return iterations, salt, dk


def verify_password(encoded: str, password: str) -> bool:
    """Verify by the encoding's prefix so a profile change never locks users out; constant-time, never raises."""
    try:
        if not isinstance(password, str) or not isinstance(encoded, str):
            return False
        if encoded.startswith(ARGON2_PREFIX):
            return _ARGON2_VERIFIER.verify(encoded, password)
        if encoded.startswith(PBKDF2_SM3_PREFIX):
            iterations, salt, expected = _parse_pbkdf2_sm3(encoded)
            return hmac.compare_digest(_pbkdf2_sm3(password, salt, iterations, len(expected)), expected)
    except Exception:  # mismatch, malformed hash, bad UTF-8 surrogates...: all just "no"
        return False
    return False


def sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """SM4-GCM seal returning ciphertext||tag; public so known-answer tests exercise the backend's own code path."""
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    body = enc.update(plaintext) + enc.finalize()
    return body + enc.tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """SM4-GCM open of ciphertext||tag; raises CryptoError rather than ever returning unauthenticated plaintext."""
    try:  # ValueError: input shorter than the 16-byte tag
        dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-_TAG_LEN:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(sealed[:-_TAG_LEN]) + dec.finalize()
    except (InvalidTag, ValueError):
        raise CryptoError("SM4-GCM: authentication failed") from None


class _SoftwareBackend:
    """Shared token/index/digest logic; subclasses supply the algorithms of their profile."""

    name = ""
    alg = ""  # algorithm tag written into field tokens
    _hash_name = ""  # hashlib name for digest() and index()

    def __init__(self, keys: Keys | None = None) -> None:
        self._keys = keys

    def _require_keys(self) -> Keys:
        if self._keys is None:
            raise CryptoError(f"{self.name} backend has no keys: build it with make_backend() or pass Keys")
        return self._keys

    def verify_password(self, encoded: str, password: str) -> bool:
        """Delegates to the module-level dispatch so hashes from either profile keep verifying."""
        return verify_password(encoded, password)

    def digest(self, data: bytes) -> str:
        """Hex digest for the audit hash chain (SHA-256 or SM3 by profile)."""
        return hashlib.new(self._hash_name, data).hexdigest()

    def index(self, value: str, context: str) -> str:
        """Keyed deterministic index so encrypted fields can still be looked up by equality."""
        ctx = context.encode("utf-8")
        message = len(ctx).to_bytes(4, "big") + ctx + value.encode("utf-8")
        return hmac.new(self._require_keys().index_key, message, self._hash_name).hexdigest()

    def encrypt_field(self, plaintext: str, context: str) -> str:
        """Authenticated encryption of a personal-data field at rest, bound to its context (AAD)."""
        keys = self._require_keys()
        nonce = secrets.token_bytes(_NONCE_LEN)
        sealed = self._seal(keys, nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return ".".join((TOKEN_VERSION, self.alg, _b64e(nonce), _b64e(sealed)))

    def decrypt_field(self, token: str, context: str) -> str:
        """Decrypt a field token; CryptoError on tampering, wrong context, wrong key or another algorithm."""
        keys = self._require_keys()
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or parts[0] != TOKEN_VERSION:
            raise CryptoError(f"field token: expected '{TOKEN_VERSION}.<alg>.<nonce>.<ciphertext>'")
        if parts[1] != self.alg:
            raise CryptoError(
                f"field token was encrypted with {parts[1][:32]!r} but the {self.name!r} profile uses {self.alg!r}; "
                "re-encrypt it under the active profile"
            )
        try:
            nonce, sealed = _b64d(parts[2]), _b64d(parts[3])
        except ValueError:
            raise CryptoError("field token: invalid base64url") from None
        if len(nonce) != _NONCE_LEN or len(sealed) < _TAG_LEN:
            raise CryptoError("field token: bad nonce or ciphertext length")
        try:
            return self._open(keys, nonce, sealed, context.encode("utf-8")).decode("utf-8")
        except (CryptoError, InvalidTag, UnicodeDecodeError):
            raise CryptoError("field token failed authentication (tampered, wrong context or wrong key)") from None

    def _seal(self, keys: Keys, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        raise NotImplementedError

    def _open(self, keys: Keys, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        raise NotImplementedError


class StandardBackend(_SoftwareBackend):
    """International profile: argon2id, SHA-256, AES-256-GCM, HMAC-SHA256."""

    name = "standard"
    alg = "aes256gcm"
    _hash_name = "sha256"

    def __init__(self, keys: Keys | None = None, *, hasher: PasswordHasher | None = None) -> None:
        super().__init__(keys)
        self._hasher = hasher or PasswordHasher()  # argon2-cffi defaults; tests may pass cheaper parameters
        if self._hasher.type is not Type.ID:
            raise CryptoError("StandardBackend: the password hasher must be argon2id")

    def hash_password(self, password: str) -> str:
        """argon2id: memory-hard, so offline guessing of a leaked hash stays expensive."""
        return self._hasher.hash(password)

    def needs_rehash(self, encoded: str) -> bool:
        """True for a gm-profile hash or an argon2id hash made with other parameters."""
        try:
            return not encoded.startswith(ARGON2_PREFIX) or self._hasher.check_needs_rehash(encoded)
        except Exception:
            return True

    def _seal(self, keys: Keys, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return AESGCM(keys.field_key).encrypt(nonce, data, aad)

    def _open(self, keys: Keys, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        return AESGCM(keys.field_key).decrypt(nonce, sealed, aad)


class GmBackend(_SoftwareBackend):
    """GB/T 39786 commercial-cryptography profile: PBKDF2-HMAC-SM3, SM3, SM4-GCM, HMAC-SM3."""

    name = "gm"
    alg = "sm4gcm"
    _hash_name = "sm3"

    def __init__(self, keys: Keys | None = None, *, iterations: int = DEFAULT_PBKDF2_ITERATIONS) -> None:
        if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise CryptoError(f"pbkdf2 iterations must be between 1 and {MAX_PBKDF2_ITERATIONS}, got {iterations}")
        super().__init__(keys)
        self.iterations = iterations

    def hash_password(self, password: str) -> str:
        """PBKDF2-HMAC-SM3 with a random salt: the SM-algorithm password hash the gm profile requires."""
        salt = secrets.token_bytes(_SALT_LEN)
        dk = _pbkdf2_sm3(password, salt, self.iterations)
        return f"{PBKDF2_SM3_PREFIX}i={self.iterations}${_b64e(salt)}${_b64e(dk)}"

    def needs_rehash(self, encoded: str) -> bool:
        """True for a standard-profile hash or a pbkdf2-sm3 hash with another iteration count or salt size."""
        try:
            iterations, salt, _ = _parse_pbkdf2_sm3(encoded)
        except ValueError:
            return True
        return iterations != self.iterations or len(salt) != _SALT_LEN

    def _seal(self, keys: Keys, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return sm4_gcm_encrypt(keys.sm4_key, nonce, data, aad)

    def _open(self, keys: Keys, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        return sm4_gcm_decrypt(keys.sm4_key, nonce, sealed, aad)


def make_backend(profile: str, key_file: Path, *, pbkdf2_iterations: int | None = None) -> CryptoBackend:
    """Build the CRYPTO_PROFILE backend (the one place a hardware module plugs in); iterations apply to gm only."""
    chosen = profile.strip().lower() if isinstance(profile, str) else profile
    if chosen not in ("standard", "gm"):
        raise CryptoError(f"CRYPTO_PROFILE: expected standard or gm, got {profile!r}")
    keys = load_or_create_keys(key_file)
    if chosen == "standard":
        return StandardBackend(keys)
    return GmBackend(keys, iterations=DEFAULT_PBKDF2_ITERATIONS if pbkdf2_iterations is None else pbkdf2_iterations)
