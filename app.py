"""Composition root: read settings, start or connect services, build the web app and workers.

    python app.py run                 everything on embedded defaults (what `make run` does)
    python app.py web | worker | simulate
    python app.py backfill --days 365
    python app.py migrate

`run` starts the embedded Redis when REDIS_URL is unset, prepares the warehouse (migrations,
dimensions, a first backfill when empty), then supervises a worker and a simulator process
(restarting them if they die) and serves the web app in the foreground.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from settings import Settings, load_settings

log = logging.getLogger("app")
VERSION = "0.1.0"
ROOT = Path(__file__).resolve().parent


# --- services --------------------------------------------------------------------------------------------
def redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    return f"unix://{(settings.data_dir / 'redis' / 'redis.sock').resolve()}"


def connect_redis(settings: Settings):  # type: ignore[no-untyped-def]
    from streams.redis_conn import check_durability, connect

    r = connect(redis_url(settings))
    check_durability(r, settings.durability)
    return r


def warehouse(settings: Settings, role: str):  # type: ignore[no-untyped-def]
    """Engine, fact tables; refuses an unsafe database for the consumer in strict mode."""
    from warehouse.db import check_durability, make_engine
    from warehouse.schema import registry_fact_tables

    engine = make_engine(settings.warehouse_url, role=role)  # type: ignore[arg-type]
    tables = registry_fact_tables()
    if role == "consumer":
        problems = check_durability(engine)
        if problems and settings.durability == "strict":
            raise SystemExit("refusing an unsafe warehouse: " + "; ".join(problems))
        for p in problems:
            log.warning("UNSAFE WAREHOUSE: %s", p)
    return engine, tables


def codec():  # type: ignore[no-untyped-def]
    from datasources.registry import schemas
    from streams.codec import Codec

    return Codec(schemas().values())


def accounts_of(settings: Settings, engine):  # type: ignore[no-untyped-def]
    """The account service with the configured crypto profile and password policy."""
    from auth.accounts import Accounts
    from auth.crypto import make_backend
    from auth.passwords import policy_for

    crypto = make_backend(settings.crypto_profile, settings.key_file)
    return Accounts(engine, crypto, policy_for(settings.password_policy))


def session_store(settings: Settings, r):  # type: ignore[no-untyped-def]
    from auth.sessions import SessionStore

    return SessionStore(r, idle_s=settings.session_idle_minutes * 60,
                        absolute_s=int(settings.session_absolute_hours * 3600))


def fact_sealer(settings: Settings):  # type: ignore[no-untyped-def]
    """Protects personal fields of fact rows (SM4-GCM under gm); every fact writer gets one."""
    from auth.crypto import make_backend
    from warehouse.protect import FactSealer

    return FactSealer(make_backend(settings.crypto_profile, settings.key_file))


def socketio_channel(settings: Settings) -> str:
    return settings.extra.get("socketio_channel", "cc-live") if settings.extra else "cc-live"


# --- commands --------------------------------------------------------------------------------------------
def cmd_migrate(settings: Settings) -> None:
    from auth.crypto import make_backend
    from domain.compound import build_compound
    from warehouse.migrate import upgrade
    from warehouse.models import load_dimensions
    from warehouse.people import PersonProtector

    engine, _tables = warehouse(settings, "consumer")
    upgrade(engine)
    load_dimensions(engine, build_compound(settings.compound_seed),
                    protect=PersonProtector(make_backend(settings.crypto_profile, settings.key_file)))


def cmd_backfill(settings: Settings, days: int, *, seed_live: bool = False) -> None:
    """History into the warehouse; with seed_live (first start) also into live state, and the
    simulator feed continues from where the history ends."""
    import analytics.metrics  # noqa: F401 - registers the KPI extractors
    from datasources.registry import SYSTEMS
    from domain.calendar import default_calendar
    from domain.compound import build_compound
    from streams.live_state import LiveState
    from streams.seed import HistorySeeder
    from streams.simfeed import save_cursor
    from warehouse.backfill import backfill

    cmd_migrate(settings)
    engine, tables = warehouse(settings, "backfill")
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    r = connect_redis(settings) if seed_live else None
    seeder = HistorySeeder(LiveState(r, settings.zone), settings.zone, end) if r is not None else None
    backfill(engine, list(SYSTEMS.values()), build_compound(settings.compound_seed), default_calendar(),
             days=days, end=end, seed=settings.sim_seed, tz=settings.zone, progress=True, tables=tables,
             workers=1 if seeder is not None else os.cpu_count() or 1,  # seeding sees events in this process
             observe=seeder, sealer=fact_sealer(settings))
    if r is not None:
        save_cursor(r, end)


def cmd_worker(settings: Settings, name: str) -> None:
    import analytics.metrics  # noqa: F401 - registers the KPI extractors
    from analytics.deltas import fold
    from datasources.registry import SYSTEMS
    from streams.codec import stream_of
    from streams.consumer import StreamConsumer
    from streams.live_state import LiveState
    from streams.push import Pusher, socketio_emitter
    from streams.worker import run_worker
    from warehouse.sink import Sink

    r = connect_redis(settings)
    engine, tables = warehouse(settings, "consumer")
    library = screen_library(settings)
    register_screen_topics(library)
    library.start_watching(lambda _change: register_screen_topics(library))  # new bindings: pushed next flush
    live = LiveState(r, settings.zone)
    pusher = Pusher(live, socketio_emitter(redis_url(settings), socketio_channel(settings)))
    tz = settings.zone
    consumer = StreamConsumer(
        r, Sink(engine, tables, sealer=fact_sealer(settings)), codec(), live, lambda evs: fold(evs, tz).to_wire(),
        streams=[stream_of(s.name) for s in SYSTEMS.values()], name=name, batch=settings.batch_size,
        claim_idle_ms=settings.claim_idle_ms, max_tries=settings.max_tries, on_applied=pusher.note,
    )
    stop = _stop_on_signals()
    log.info("worker %s consuming %d streams", name, len(consumer.streams))
    run_worker(consumer, pusher, stop, stream_cap=settings.stream_cap, lag_alarm_s=settings.lag_alarm_s)


def first_admins(settings: Settings) -> None:
    """Print the three administrators' one-time passwords once, on the very first start."""
    from auth.cli import ensure_first_admins, first_login_banner

    engine, _ = warehouse(settings, "web")
    made = ensure_first_admins(accounts_of(settings, engine), settings.admin_password)
    if made:
        print(first_login_banner(made, settings.public_url or f"http://{settings.host}:{settings.port}"), flush=True)


def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    from auth.cli import run_users

    engine, _ = warehouse(settings, "web")
    from streams.redis_conn import connect

    try:  # a changed account's sessions end at once when the product is running
        r = connect(redis_url(settings))
        r.ping()
        sessions = session_store(settings, r)
    except Exception as exc:  # noqa: BLE001 - not running: no sessions to end
        log.warning("Redis unreachable (%s): no sessions ended", exc)
        sessions = None
    return run_users(args, accounts_of(settings, engine), lambda uid: sessions.end_user(uid) if sessions else 0,
                     issuer=settings.oidc_issuer)


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from auth.cli import run_token

    engine, _ = warehouse(settings, "web")
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return run_token(args, tokens_of(settings, engine), base, walls(settings))


def cmd_validate_screens(settings: Settings | None = None) -> int:
    """Check SCREENS_DIR's screens and playlists against the live metric catalogue; exit 1 on any error."""
    from screens.loader import format_errors, load_all

    result = load_all((settings or Settings()).screens_dir, screen_catalogue())
    if result.errors:
        print(format_errors(result.errors))
        return 1
    print(f"{len(result.screens)} screen(s) and {len(result.playlists)} playlist(s) valid")
    return 0


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    from auth.cli import run_audit

    engine, _ = warehouse(settings, "web")
    return run_audit(args, engine, keep_days=settings.audit_retention_days)


def ensure_history(settings: Settings) -> None:
    """First start: an empty warehouse gets BACKFILL_DAYS of history, seeded into live state too."""
    from warehouse.backfill import is_empty

    engine, _ = warehouse(settings, "web")
    if settings.backfill_days > 0 and is_empty(engine):
        log.info("empty warehouse: backfilling %d days of simulated history", settings.backfill_days)
        cmd_backfill(settings, settings.backfill_days, seed_live=True)


def cmd_simulate(settings: Settings) -> None:
    """History first when the warehouse is empty, then the live feed continuing from its end."""
    ensure_history(settings)
    from datasources.registry import SYSTEMS
    from domain.calendar import default_calendar
    from domain.compound import build_compound
    from streams.producer import Producer
    from streams.simfeed import SimFeed, resume_point, stored_seq

    r = connect_redis(settings)
    start = resume_point(r, dt.datetime.now(dt.UTC), dt.timedelta(hours=settings.sim_catchup_hours))
    compound, cal = build_compound(settings.compound_seed), default_calendar()
    sims = {}
    for name, spec in SYSTEMS.items():
        source = f"sim.{name}"
        sims[name] = spec.make_simulator(compound, cal, seed=settings.sim_seed, rate=settings.sim_rate,
                                         tz=settings.zone, source=source, seq_start=stored_seq(r, source))
    producer = Producer(r, codec(), max_bytes=settings.max_event_bytes,
                        max_past=dt.timedelta(days=settings.max_past_days),
                        max_future=dt.timedelta(seconds=settings.max_future_s))
    log.info("simulating %d systems at rate %.2f", len(sims), settings.sim_rate)
    SimFeed(producer, sims, start=start).run(_stop_on_signals())


def create_web(settings: Settings):  # type: ignore[no-untyped-def]
    """The Dash app on Flask with Socket.IO (Redis message queue) and /healthz."""
    from ipaddress import ip_network

    import dash
    import socketio as socketio_lib
    from dash import html
    from flask_socketio import SocketIO

    from api.health import health_blueprint
    from api.ingest import ingest_blueprint
    from api.people import people_blueprint
    from auth.access import PAGES
    from auth.admin_web import admin_blueprint
    from auth.crypto import make_backend
    from auth.lockout import LoginThrottle
    from auth.roles import parse_roles
    from auth.web import AuthContext, allowed_origins, auth_blueprint, install_guard, page_guard
    from callbacks.live_socket import SocketSessions, announce_screen_change, register_live_socket
    from analytics.deltas import metrics
    from callbacks.screen_pages import RELAYOUT_INPUTS, relayout_store, screen_layouts
    from callbacks.screen_queries import register_screen_queries
    from callbacks.screen_topics import wall_topics
    from datasources.registry import SYSTEMS
    from layouts.live_overview import layout
    from streams import health
    from streams.codec import stream_of
    from streams.live_state import LiveState
    from streams.producer import Producer
    from streams.redis_conn import connect
    from warehouse.member_names import member_names
    from warehouse.people import PersonProtector

    url = redis_url(settings)
    r = connect(url)
    live = LiveState(r, settings.zone)
    engine, _tables = warehouse(settings, "web")
    systems = [(s.name, s.title_zh, s.title_en, s.expected_interval_s) for s in SYSTEMS.values()]
    library = screen_library(settings)
    register_screen_topics(library)
    kinds = {name: info.kind for name, info in metrics().items()}
    known_walls = library.scope_view()  # follows hot reloads

    # Dash pages: a page's layout function receives the URL's query (?lang=en), which a plain
    # app.layout function cannot see (Dash fetches it with a separate request).
    app = dash.Dash(__name__, assets_folder=str(ROOT / "assets"), title="智慧机关事务 · 指挥中心",
                    update_title=None, serve_locally=True, use_pages=True, pages_folder="",
                    routing_callback_inputs=RELAYOUT_INPUTS)
    server = app.server
    server.config["SECRET_KEY"] = settings.secret_key
    dash.register_page("live_overview", path="/", title="智慧机关事务 · 实时数据总览",
                       layout=page_guard(PAGES["/"], lambda lang="zh", **_query: layout(lang, systems), no_access))
    with engine.connect() as conn:  # rows of family panels show names (1号楼), not ids (B01)
        names = member_names(conn)
    screens_page, wall_page = screen_layouts(library, kinds, no_access, names)
    dash.register_page("screens", path_template="/screens/<screen_id>", title="智慧机关事务 · 大屏",
                       layout=page_guard(PAGES["/screens/<screen_id>"], screens_page, no_access))
    dash.register_page("wall", path_template="/wall/<name>", title="智慧机关事务 · 大屏",
                       layout=page_guard(PAGES["/wall/<name>"], wall_page, no_access))
    app.layout = html.Div([dash.page_container, relayout_store()])

    origins = allowed_origins([settings.host, "localhost", "127.0.0.1"], settings.port, settings.public_url)
    sessions = session_store(settings, r)
    tokens = tokens_of(settings, engine)
    ctx = AuthContext(engine=engine, accounts=accounts_of(settings, engine), sessions=sessions,
                      throttle=LoginThrottle(r), crypto_profile=settings.crypto_profile, origins=origins,
                      secure=settings.secure, second_factor_roles=parse_roles(
                          x for x in settings.second_factor_roles.split(",") if x.strip()),
                      csp_script_hashes=app.csp_hashes,
                      admin_networks=tuple(ip_network(n.strip(), strict=False)
                                           for n in settings.admin_networks.split(",") if n.strip()),
                      tokens=tokens, sso_enabled=bool(settings.oidc_issuer), sso_label=settings.oidc_label)
    install_guard(server, ctx)
    server.extensions["cc_auth"] = ctx  # for blueprints and tests that need the same context
    server.register_blueprint(auth_blueprint(ctx))
    server.register_blueprint(admin_blueprint(ctx, walls=known_walls,
                                              base_url=settings.public_url or f"http://{settings.host}:{settings.port}"))
    if settings.audit_syslog:
        from auth.syslog import AuditForwarder

        threading.Thread(target=AuditForwarder(engine, r, settings.audit_syslog).run, args=(threading.Event(),),
                         name="audit-syslog", daemon=True).start()
    if settings.oidc_issuer:
        from auth.oidc import OidcClient, OidcConfig
        from auth.sso_web import redis_nonce_seen, sso_blueprint

        base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        oidc = OidcClient(OidcConfig(issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
                                     client_secret=settings.oidc_client_secret,
                                     redirect_uri=base + "/login/sso/callback"), nonce_seen=redis_nonce_seen(r))
        server.register_blueprint(sso_blueprint(ctx, oidc))
    producer = Producer(r, codec(), max_bytes=settings.max_event_bytes,
                        max_past=dt.timedelta(days=settings.max_past_days),
                        max_future=dt.timedelta(seconds=settings.max_future_s))
    server.register_blueprint(ingest_blueprint(producer, ctx, r, require_signature=settings.ingest_require_signature,
                                               rate_per_s=settings.ingest_rate_per_token,
                                               burst=max(1, int(2 * settings.ingest_rate_per_token))))
    server.register_blueprint(people_blueprint(
        engine, PersonProtector(make_backend(settings.crypto_profile, settings.key_file)), ctx))

    def database_ok() -> None:
        from sqlalchemy import text

        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def check():  # type: ignore[no-untyped-def]
        return health.report(r, live, [stream_of(s.name) for s in SYSTEMS.values()], database=database_ok,
                             version=VERSION, stream_cap=settings.stream_cap)

    server.register_blueprint(health_blueprint(check))
    # an explicit manager: flask-socketio picks Kombu for any URL but redis://, and ours may be unix://
    manager = socketio_lib.RedisManager(url, channel=socketio_channel(settings))
    socketio = SocketIO(server, client_manager=manager, async_mode="threading",
                        cors_allowed_origins=sorted(origins), max_http_buffer_size=65_536)
    guard = SocketSessions(socketio, sessions, ctx.cookie, wall_cookie=ctx.wall_cookie, wall_of=ctx.wall_principal,
                           revoked=tokens.revoked_since)
    register_live_socket(socketio, live, {s.name: s.expected_interval_s for s in SYSTEMS.values()}, guard,
                         wall_topics=lambda scope: wall_topics(scope, library.playlists))
    register_screen_queries(socketio, engine, r, lambda: library.screens, guard.principal, settings.zone,
                            wall_topics=lambda scope: wall_topics(scope, library.playlists))
    guard.start()

    def screens_changed(change) -> None:  # type: ignore[no-untyped-def]
        register_screen_topics(library)  # before the pages ask for their new layout and snapshot
        announce_screen_change(socketio, change.version, change.notify)

    library.start_watching(screens_changed)
    return app, socketio


def screen_catalogue():  # type: ignore[no-untyped-def]
    """What a screen may bind: the live metric catalogue and the warehouse's named queries."""
    import analytics.metrics  # noqa: F401 - registers the metric catalogue
    from analytics.deltas import metrics
    from screens.loader import Catalogue
    from warehouse.panel_queries import NAMED_QUERIES

    return Catalogue(metrics(), NAMED_QUERIES)


def screen_library(settings: Settings):  # type: ignore[no-untyped-def]
    """SCREENS_DIR's screens and playlists, validated against the metric catalogue and reloaded when the files
    change (hot reload); invalid files are logged and left out (the app keeps serving every valid screen)."""
    from screens.library import ScreenLibrary

    return ScreenLibrary(settings.screens_dir, screen_catalogue())


def walls(settings: Settings | None = None) -> frozenset[str]:
    """What a display token may be paired to: every valid screen and playlist of SCREENS_DIR."""
    return screen_library(settings or Settings()).scopes()


def register_screen_topics(lib) -> None:  # type: ignore[no-untyped-def]
    """The same push topics in the worker (which pushes) and the web process (which subscribes), at start and
    after every reload."""
    import analytics.metrics  # noqa: F401
    from analytics.deltas import metrics
    from callbacks.screen_topics import sync_screen_topics

    sync_screen_topics(lib.screens.values(), {name: info.kind for name, info in metrics().items()})


def tokens_of(settings: Settings, engine):  # type: ignore[no-untyped-def]
    from auth.crypto import make_backend
    from auth.tokens import Tokens

    return Tokens(engine, make_backend(settings.crypto_profile, settings.key_file), profile=settings.crypto_profile)


def no_access():  # type: ignore[no-untyped-def]
    """What a page shows to a signed-in person whose roles do not include it."""
    from dash import dcc

    return dcc.Location(id="no-access-redirect", href="/no-access", refresh=True)


def cmd_web(settings: Settings) -> None:
    app, socketio = create_web(settings)
    log.info("serving on http://%s:%d", settings.host, settings.port)
    socketio.run(app.server, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True,
                 use_reloader=False, log_output=False)


def cmd_run(settings: Settings) -> None:
    """Everything on embedded defaults, supervised; Ctrl-C or SIGTERM stops it all (the AOF keeps the data)."""
    from streams.redis_conn import EmbeddedRedis

    embedded = None
    env = dict(os.environ)
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        env["REDIS_URL"] = embedded.start()
        settings = load_settings(env)
    connect_redis(settings)
    cmd_migrate(settings)
    first_admins(settings)
    if not settings.simulators:
        ensure_history(settings)  # with simulators on, the simulate process does it (web serves meanwhile)
    children = [[sys.executable, str(ROOT / "app.py"), "worker", "--name", f"c{i + 1}"]
                for i in range(settings.consumers)]
    if settings.simulators:
        children.append([sys.executable, str(ROOT / "app.py"), "simulate"])
    supervisor = Supervisor(children, env)
    supervisor.start()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        cmd_web(settings)
    finally:
        supervisor.stop()
        if embedded:
            embedded.stop()


class Supervisor:
    """Keeps child processes alive: a crashed worker is restarted (the stream keeps its work)."""

    def __init__(self, commands: list[list[str]], env: dict[str, str]):
        self.commands, self.env = commands, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()

    def start(self) -> None:
        self.procs = [subprocess.Popen(c, env=self.env) for c in self.commands]
        threading.Thread(target=self._watch, name="supervisor", daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for i, p in enumerate(self.procs):
                if p.poll() is not None and not self._stop.is_set():
                    log.error("%s exited with %s; restarting", " ".join(self.commands[i][2:]), p.returncode)
                    self.procs[i] = subprocess.Popen(self.commands[i], env=self.env)

    def stop(self) -> None:
        self._stop.set()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _exit_on_sigterm(*_: object) -> None:
    """A service manager's stop (SIGTERM) ends `run` as Ctrl-C does: through its finally, which stops the
    workers, the simulators and the embedded Redis. Python's default SIGTERM ends the process at once and
    left them all running."""
    raise SystemExit(0)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="app.py", description="智慧机关事务 command center")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("run", help="everything on embedded defaults")
    sub.add_parser("web", help="the web app only")
    w = sub.add_parser("worker", help="one stream consumer process")
    w.add_argument("--name", default="c1")
    sub.add_parser("simulate", help="feed the built-in simulators into Redis")
    b = sub.add_parser("backfill", help="write simulated history into the warehouse")
    b.add_argument("--days", type=int, default=365)
    sub.add_parser("migrate", help="create or upgrade the warehouse schema and dimensions")
    sub.add_parser("validate-screens", help="check screens and playlists against the metric catalogue")
    sub.add_parser("site-map", help="print the simulated compound's site map (screens/maps/compound.geojson)")
    from auth.cli import add_parsers

    add_parsers(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    cmd = args.cmd or "run"
    if cmd == "run":
        cmd_run(settings)
    elif cmd == "web":
        cmd_web(settings)
    elif cmd == "worker":
        cmd_worker(settings, args.name)
    elif cmd == "simulate":
        cmd_simulate(settings)
    elif cmd == "backfill":
        cmd_backfill(settings, args.days)
    elif cmd == "migrate":
        cmd_migrate(settings)
    elif cmd == "users":
        cmd_migrate(settings)
        sys.exit(cmd_users(settings, args))
    elif cmd == "audit":
        sys.exit(cmd_audit(settings, args))
    elif cmd == "validate-screens":
        sys.exit(cmd_validate_screens(settings))
    elif cmd == "site-map":
        from domain.compound import build_compound
        from domain.site_map import site_map_json

        sys.stdout.write(site_map_json(build_compound(settings.compound_seed)))
    elif cmd == "token":
        cmd_migrate(settings)
        sys.exit(cmd_token(settings, args))


if __name__ == "__main__":
    main()
