"""Who is asking (a Principal) and what each route, Dash callback and push topic requires (rules as data).

The rule tables are the product's access policy in one place: the guard looks every request up
here and refuses what has no rule (fail closed), and the authorisation-matrix test walks every
route, callback, socket event and topic of the built app against these tables, so adding one
without a rule fails the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from auth.roles import Perm, Role, permissions

PUBLIC = "public"  # anyone, also before login (login page, static assets, liveness)
SIGNED_IN = "signed_in"  # any fully logged-in person, whatever their roles
PENDING = "pending"  # a person part-way through login (second factor, enrolment, password change)


@dataclass(frozen=True)
class Principal:
    """The requester as the server knows it; built from the server-side session, never from the client."""

    kind: str  # anonymous | person | wall | source
    name: str = ""  # username, or the display token's id
    user_id: int | None = None
    roles: frozenset[Role] = frozenset()
    unit_id: str | None = None
    stage: str = ""
    perms: frozenset[Perm] = field(default_factory=frozenset)
    scope: str = ""  # a wall's binding: playlist:NAME or screen:ID

    @classmethod
    def person(cls, user_id: int, name: str, roles: frozenset[Role], unit_id: str | None, stage: str) -> Principal:
        return cls(kind="person", name=name, user_id=user_id, roles=roles, unit_id=unit_id, stage=stage,
                   perms=permissions(roles) if stage == "full" else frozenset())

    @classmethod
    def wall(cls, token_id: str, scope: str) -> Principal:
        return cls(kind="wall", name=token_id, stage="full", perms=frozenset({Perm.WALL_VIEW}), scope=scope)

    @classmethod
    def source(cls, token_id: str, scope: str) -> Principal:
        return cls(kind="source", name=token_id, stage="full", perms=frozenset({Perm.INGEST}), scope=scope)

    @property
    def actor(self) -> str:
        return f"user:{self.name}" if self.kind == "person" else (
            f"token:{self.name}" if self.kind in ("wall", "source") else self.kind)

    def shows(self, name: str) -> bool:
        """Whether this wall is bound to the screen or playlist `name`."""
        return self.kind == "wall" and self.scope in (f"playlist:{name}", f"screen:{name}")

    @property
    def signed_in(self) -> bool:
        return self.kind == "person" and self.stage == "full"


ANONYMOUS = Principal(kind="anonymous")
VIEWER = f"{SIGNED_IN}|{Perm.WALL_VIEW}"  # a signed-in person or a paired wall


def allows(rule: str, who: Principal) -> bool:
    """Whether `who` meets `rule`: PUBLIC, SIGNED_IN, PENDING, a permission, or several joined by "|" (any)."""
    if "|" in rule:
        return any(allows(part, who) for part in rule.split("|"))
    if rule == PUBLIC:
        return True
    if rule == PENDING:
        return who.kind == "person"
    if rule == SIGNED_IN:
        return who.signed_in
    try:
        return Perm(rule) in who.perms  # only full sessions and paired walls carry permissions
    except ValueError:  # not a permission: refuse rather than guess
        return False


# Flask endpoints (as in app.server.url_map). Dash's own endpoints carry the URL as their name.
ROUTES: dict[str, str] = {
    "static": PUBLIC,
    "_dash_assets.static": PUBLIC,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": PUBLIC,
    "/_favicon.ico": PUBLIC,
    "/_dash-layout": VIEWER,
    "/_dash-dependencies": VIEWER,
    "/_dash-update-component": VIEWER,  # then the callback's own rule (CALLBACKS)
    "/_reload-hash": VIEWER,
    "/": SIGNED_IN,  # then the page's own rule (PAGES)
    "/<path:path>": VIEWER,  # Dash pages by path: their own rule (PAGES)
    "health.healthz": PUBLIC,  # liveness for the gateway; the detail only for HEALTH_DETAIL or loopback
    "auth.login": PUBLIC,
    "auth.logout": PENDING,
    "auth.second_factor": PENDING,
    "auth.enrol": PENDING,
    "auth.password": PENDING,
    "auth.no_access": PUBLIC,
    "auth.whoami": PUBLIC,
    "auth.pair": PUBLIC,  # the one-time pairing code is the credential
    # the open ingest side (api/ingest.py): a source token, and only for its own system (checked inside)
    "ingest.submit": Perm.INGEST,
    "auth.wall_revoked": PUBLIC,
    # single sign-on (auth/sso_web.py)
    "sso.begin": PUBLIC,
    "sso.callback": PUBLIC,
    # person records (api/people.py): masked by default, scoped to the unit of a unit admin
    "people.list": Perm.PEOPLE_VIEW,
    "people.person": Perm.PEOPLE_VIEW,  # ?unmask=1 additionally needs pii:unmask and a reason
    # administration (auth/admin_web.py): the three administrators' separated powers
    "admin.users": f"{Perm.USERS_MANAGE}|{Perm.ROLES_MANAGE}",
    "admin.user_create": Perm.USERS_MANAGE,
    "admin.user_action": Perm.USERS_MANAGE,  # disable, enable, reset
    "admin.user_roles": Perm.ROLES_MANAGE,
    "admin.user_unlock": Perm.ROLES_MANAGE,
    "admin.audit": Perm.AUDIT_READ,
    "admin.audit_export": Perm.AUDIT_EXPORT,
    "admin.tokens": Perm.TOKENS_MANAGE,
    "admin.token_issue": Perm.TOKENS_MANAGE,
    "admin.token_revoke": Perm.TOKENS_MANAGE,
}

# Dash pages by path: the page layout is built only for a principal with the permission.
PAGES: dict[str, str] = {
    "/": Perm.LIVE_VIEW,
    # a wall sees only the screen or playlist it is paired to (checked by name in the page itself)
    "/wall/<name>": f"{Perm.LIVE_VIEW}|{Perm.WALL_VIEW}",
    "/screens/<screen_id>": f"{Perm.LIVE_VIEW}|{Perm.WALL_VIEW}",
}

# Dash callbacks by their output id (the keys of app.callback_map).
CALLBACKS: dict[str, str] = {
    # Dash Pages' router: renders the page for a path, which then checks PAGES itself
    ".._pages_content.children..._pages_store.data..": VIEWER,
    "_pages_dummy.children": VIEWER,  # Dash Pages' clientside title setter; never reaches the server
}

# Socket.IO: events of the /live namespace and topics a subscription may name.
SOCKET_EVENTS: dict[str, str] = {
    "connect": VIEWER,
    "subscribe": VIEWER,  # then each topic's rule
    "query": VIEWER,  # a screen's query-bound panels: then the screen topic's rule (callbacks/screen_queries.py)
}
# a topic a wall may subscribe to carries counts and masked values only (SECURITY.md)
TOPICS: dict[str, str] = {
    "overview": f"{Perm.LIVE_VIEW}|{Perm.WALL_VIEW}",
    "screen:*": f"{Perm.LIVE_VIEW}|{Perm.WALL_VIEW}",  # a wall: only the screens it is paired to (live_socket)
}


def home_for(roles: frozenset[Role]) -> str:
    """Where a fully signed-in person lands: the live page, or the administrator's own page."""
    perms = permissions(roles)
    if Perm.LIVE_VIEW in perms:
        return "/"
    if Perm.USERS_MANAGE in perms or Perm.ROLES_MANAGE in perms:
        return "/admin/users"
    if Perm.AUDIT_READ in perms:
        return "/admin/audit"
    return "/no-access"


def topic_rule(name: str) -> str | None:
    """The rule of a push topic: its own entry, else the first pattern (screen:*) it matches."""
    if name in TOPICS:
        return TOPICS[name]
    return next((rule for pattern, rule in TOPICS.items() if fnmatchcase(name, pattern)), None)


def rule_for(table: Mapping[str, str], key: str) -> str | None:
    """The rule for a key, or None when it has none (the guard then refuses)."""
    return table.get(key)
