"""Who is asking (a Principal) and what each route, Dash callback and push topic requires (rules as data).

The rule tables are the product's access policy in one place: the guard looks every request up
here and refuses what has no rule (fail closed), and the authorisation-matrix test walks every
route, callback, socket event and topic of the built app against these tables, so adding one
without a rule fails the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from auth.roles import Perm, Role, permissions

PUBLIC = "public"  # anyone, also before login (login page, static assets, liveness)
SIGNED_IN = "signed_in"  # any fully logged-in person, whatever their roles
PENDING = "pending"  # a person part-way through login (second factor, enrolment, password change)


@dataclass(frozen=True)
class Principal:
    """The requester as the server knows it; built from the server-side session, never from the client."""

    kind: str  # anonymous | person
    name: str = ""
    user_id: int | None = None
    roles: frozenset[Role] = frozenset()
    unit_id: str | None = None
    stage: str = ""
    perms: frozenset[Perm] = field(default_factory=frozenset)

    @classmethod
    def person(cls, user_id: int, name: str, roles: frozenset[Role], unit_id: str | None, stage: str) -> Principal:
        return cls(kind="person", name=name, user_id=user_id, roles=roles, unit_id=unit_id, stage=stage,
                   perms=permissions(roles) if stage == "full" else frozenset())

    @property
    def actor(self) -> str:
        return f"user:{self.name}" if self.kind == "person" else self.kind

    @property
    def signed_in(self) -> bool:
        return self.kind == "person" and self.stage == "full"


ANONYMOUS = Principal(kind="anonymous")


def allows(rule: str, who: Principal) -> bool:
    """Whether `who` meets `rule` (PUBLIC, SIGNED_IN, PENDING or a permission name)."""
    if rule == PUBLIC:
        return True
    if rule == PENDING:
        return who.kind == "person"
    if rule == SIGNED_IN:
        return who.signed_in
    try:
        return who.signed_in and Perm(rule) in who.perms
    except ValueError:  # not a permission: refuse rather than guess
        return False


# Flask endpoints (as in app.server.url_map). Dash's own endpoints carry the URL as their name.
ROUTES: dict[str, str] = {
    "static": PUBLIC,
    "_dash_assets.static": PUBLIC,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": PUBLIC,
    "/_favicon.ico": PUBLIC,
    "/_dash-layout": SIGNED_IN,
    "/_dash-dependencies": SIGNED_IN,
    "/_dash-update-component": SIGNED_IN,  # then the callback's own rule (CALLBACKS)
    "/_reload-hash": SIGNED_IN,
    "/": SIGNED_IN,  # then the page's own rule (PAGES)
    "/<path:path>": SIGNED_IN,
    "health.healthz": PUBLIC,  # liveness for the gateway; the detail only for HEALTH_DETAIL or loopback
    "auth.login": PUBLIC,
    "auth.logout": PENDING,
    "auth.second_factor": PENDING,
    "auth.enrol": PENDING,
    "auth.password": PENDING,
    "auth.no_access": PUBLIC,
    "auth.whoami": PUBLIC,
}

# Dash pages by path: the page layout is built only for a principal with the permission.
PAGES: dict[str, str] = {
    "/": Perm.LIVE_VIEW,
}

# Dash callbacks by their output id (the keys of app.callback_map).
CALLBACKS: dict[str, str] = {
    # Dash Pages' router: renders the page for a path, which then checks PAGES itself
    ".._pages_content.children..._pages_store.data..": SIGNED_IN,
    "_pages_dummy.children": SIGNED_IN,  # Dash Pages' clientside title setter; never reaches the server
}

# Socket.IO: events of the /live namespace and topics a subscription may name.
SOCKET_EVENTS: dict[str, str] = {
    "connect": SIGNED_IN,
    "subscribe": SIGNED_IN,  # then each topic's rule
}
TOPICS: dict[str, str] = {
    "overview": Perm.LIVE_VIEW,
}


def rule_for(table: Mapping[str, str], key: str) -> str | None:
    """The rule for a key, or None when it has none (the guard then refuses)."""
    return table.get(key)
