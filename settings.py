"""The one settings object, built once at start from the environment and an optional YAML file.

Everything else receives the object; nothing reads os.environ deep inside, so tests and
the stream workers get exactly the configuration the app was started with.
"""

from __future__ import annotations

import os
import secrets
from ipaddress import ip_network
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import yaml

_BOOL_TRUE = {"1", "true", "yes", "on"}
_REPO = Path(__file__).resolve().parent


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # None: start the embedded Redis under data_dir
    database_url: str | None = None  # None: SQLite under data_dir
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key: str = field(default="", repr=False)
    simulators: bool = True
    sim_rate: float = 1.0
    sim_seed: int = 20261125
    sim_catchup_hours: float = 6.0  # a restarted simulator feed re-sends at most this much missed time
    compound_seed: int = 7
    tz: str = "Asia/Shanghai"
    data_dir: Path = Path("data")
    durability: str = "strict"  # strict: refuse unsafe Redis/DB settings; warn: log loudly and go on
    consumers: int = 1
    batch_size: int = 2000  # XREADGROUP COUNT per stream; bench/README.md ("Batch size") has why
    claim_idle_ms: int = 30_000
    max_tries: int = 5
    max_event_bytes: int = 65_536
    max_past_days: float = 30.0
    max_future_s: float = 300.0
    lag_alarm_s: float = 60.0  # an alarm when the oldest event not yet in the warehouse has waited this long
    stream_cap: int = 5_000_000  # memory guard: above this length health raises an alert, nothing is trimmed
    backfill_days: int = 30
    screens_dir: Path = _REPO / "screens"  # screen YAML (playlists in its playlists/); edits are hot-reloaded
    # identity and security (README, "Security"); SECURITY.md gives the reasons for each default
    password_policy: str = "mlps"  # mlps (GB/T 22239 practice) | asvs (OWASP ASVS 5.0)
    crypto_profile: str = "standard"  # standard | gm (SM3/SM4, GB/T 39786)
    session_idle_minutes: int = 15  # 5-30
    session_absolute_hours: float = 8.0
    admin_password: str = field(default="", repr=False)  # first start only: the three administrators' password
    second_factor_roles: str = ""  # comma list of roles that also need TOTP (administrators always do)
    public_url: str | None = None  # https://... when served through a TLS gateway: Secure cookies, HSTS
    audit_retention_days: int = 180  # never less than 180 whatever is set
    audit_syslog: str = ""  # udp://host:port or tcp://host:port (RFC 5424; tcp for guaranteed delivery); empty: off
    oidc_issuer: str | None = None  # single sign-on: the provider's issuer URL (discovery under it)
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_label: str = ""  # the button's text on the login page; default 统一身份认证登录
    ingest_require_signature: bool = False  # refuse unsigned ingest requests (X-CC-Signature)
    ingest_rate_per_token: float = 2000.0  # events/s per source token; burst is twice this
    admin_networks: str = ""  # comma list of CIDRs administrators may work from; empty: anywhere
    environment: str = "production"  # production | development
    debug: bool = False  # refused outside development: debug pages run code and show stack traces
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def secure(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def key_file(self) -> Path:
        return self.data_dir / "keys" / "crypto.json"

    @property
    def warehouse_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'warehouse.db').resolve()}"


_ENV = {
    "REDIS_URL": "redis_url", "DATABASE_URL": "database_url", "HOST": "host", "PORT": "port",
    "SECRET_KEY": "secret_key", "SIMULATORS": "simulators", "SIM_RATE": "sim_rate", "SIM_SEED": "sim_seed",
    "TZ": "tz", "DATA_DIR": "data_dir", "DURABILITY": "durability", "CONSUMERS": "consumers",
    "BACKFILL_DAYS": "backfill_days", "SCREENS_DIR": "screens_dir", "PASSWORD_POLICY": "password_policy",
    "CRYPTO_PROFILE": "crypto_profile",
    "SESSION_IDLE_MINUTES": "session_idle_minutes", "SESSION_ABSOLUTE_HOURS": "session_absolute_hours",
    "ADMIN_PASSWORD": "admin_password", "SECOND_FACTOR_ROLES": "second_factor_roles", "PUBLIC_URL": "public_url",
    "AUDIT_RETENTION_DAYS": "audit_retention_days", "OIDC_ISSUER": "oidc_issuer", "OIDC_CLIENT_ID": "oidc_client_id",
    "OIDC_CLIENT_SECRET": "oidc_client_secret", "OIDC_LABEL": "oidc_label", "ADMIN_NETWORKS": "admin_networks",
    "ENVIRONMENT": "environment", "DEBUG": "debug", "INGEST_REQUIRE_SIGNATURE": "ingest_require_signature",
    "INGEST_RATE_PER_TOKEN": "ingest_rate_per_token", "AUDIT_SYSLOG": "audit_syslog",
}


def _coerce(name: str, value: Any, source: str) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = kinds[name]
    try:
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).strip().lower() in _BOOL_TRUE
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
    except (TypeError, ValueError):
        what = {"int": "an integer", "float": "a number", "Path": "a path"}.get(kind, kind)
        raise SettingsError(f"{source}: expected {what}, got {value!r}") from None
    return None if value in ("", None) and "None" in kind else str(value)


def load_settings(env: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
    """Environment variables win over the YAML file (SETTINGS_FILE or ./settings.yaml)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = path or Path(env.get("SETTINGS_FILE", "settings.yaml"))
    if path.exists():
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(doc, dict):
            raise SettingsError(f"{path}: expected a mapping of setting names to values")
        known = {f.name for f in fields(Settings)} - {"extra"}
        for k, v in doc.items():
            if k not in known:
                raise SettingsError(f"{path}: unknown setting {k!r}; known: {', '.join(sorted(known))}")
            values[k] = _coerce(k, v, f"{path}: {k}")
    for var, name in _ENV.items():
        if var in env:
            values[name] = _coerce(name, env[var], var)
    s = Settings(**values)
    if s.durability not in ("strict", "warn"):
        raise SettingsError(f"DURABILITY: expected strict or warn, got {s.durability!r}")
    try:
        ZoneInfo(s.tz)
    except (ValueError, KeyError, OSError):
        raise SettingsError(f"TZ: unknown time zone {s.tz!r}") from None
    if s.password_policy not in ("mlps", "asvs"):
        raise SettingsError(f"PASSWORD_POLICY: expected mlps or asvs, got {s.password_policy!r}")
    if s.crypto_profile not in ("standard", "gm"):
        raise SettingsError(f"CRYPTO_PROFILE: expected standard or gm, got {s.crypto_profile!r}")
    if not 5 <= s.session_idle_minutes <= 30:
        raise SettingsError(f"SESSION_IDLE_MINUTES: expected 5 to 30, got {s.session_idle_minutes}")
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        raise SettingsError(f"PUBLIC_URL: expected http://... or https://..., got {s.public_url!r}")
    if s.environment not in ("production", "development"):
        raise SettingsError(f"ENVIRONMENT: expected production or development, got {s.environment!r}")
    if s.debug and s.environment != "development":
        raise SettingsError("DEBUG: refused outside ENVIRONMENT=development (debug mode shows stack traces and "
                            "lets a browser run code on the server)")
    for net in filter(None, (x.strip() for x in s.admin_networks.split(","))):
        try:
            ip_network(net, strict=False)
        except ValueError:
            raise SettingsError(f"ADMIN_NETWORKS: {net!r} is not an address range like 10.1.0.0/16") from None
    if s.audit_syslog and not s.audit_syslog.startswith(("udp://", "tcp://")):
        raise SettingsError(f"AUDIT_SYSLOG: expected udp://host:port or tcp://host:port, got {s.audit_syslog!r}")
    if s.oidc_issuer and not (s.oidc_client_id and s.oidc_client_secret):
        raise SettingsError("OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too")
    if not s.secret_key:
        s = replace(s, secret_key=_persistent_secret(s.data_dir))
    return s


def _persistent_secret(data_dir: Path) -> str:
    """A random key kept under data/ so sessions survive restarts without a secret in the repo."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
