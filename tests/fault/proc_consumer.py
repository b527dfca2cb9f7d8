"""A stream worker process for the fault tests: `app.py worker`, over the test schemas.

    python -m tests.fault.proc_consumer --name c1 [--poison-person P] [--no-push]

Built exactly as `app.cmd_worker` builds its worker (settings from the environment and
SETTINGS_FILE; `app.connect_redis` with the durability check; a consumer-role engine with its
durability check; Sink + LiveState + Pusher(socketio_emitter) + StreamConsumer under
`run_worker`; SIGTERM/SIGINT stop it), except that the schemas, fact tables and extractors
are the small ones of tests/streams/schemas.py instead of the registry's, so the fault tests
run while `datasources.registry` is being finished. It is a real OS process the tests kill -9.

`--poison-person P` makes the handler fail (a valid event the delta step cannot process) for
every canteen meal of person P, on every try: the poison-event test.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STRUCT_NAMES = ("Meal", "Gate")


def build_worker(settings, name: str, *, poison_person: str | None = None, push: bool = True):  # type: ignore[no-untyped-def]
    """(consumer, pusher) as app.cmd_worker makes them, over the test schemas."""
    import app
    from analytics.deltas import fold
    from streams.codec import Codec, stream_of
    from streams.consumer import StreamConsumer
    from streams.live_state import LiveState
    from streams.push import Pusher, socketio_emitter
    from tests.streams import schemas  # registers the test extractors
    from warehouse.db import check_durability, make_engine
    from warehouse.facts import FactTables
    from warehouse.sink import Sink

    structs = [getattr(schemas, n) for n in STRUCT_NAMES]
    r = app.connect_redis(settings)
    engine = make_engine(settings.warehouse_url, role="consumer")
    problems = check_durability(engine)
    if problems and settings.durability == "strict":
        raise SystemExit("refusing an unsafe warehouse: " + "; ".join(problems))
    tables = FactTables(structs)
    codec = Codec(structs)
    live = LiveState(r, settings.zone)
    pusher = Pusher(live, socketio_emitter(app.redis_url(settings), app.socketio_channel(settings))) if push else None
    tz = settings.zone

    def deltas(evs):  # type: ignore[no-untyped-def]
        if poison_person is not None and any(getattr(e, "person_id", None) == poison_person for e in evs):
            raise ValueError(f"poison: the handler cannot process meals of {poison_person}")
        return fold(evs, tz).to_wire()

    consumer = StreamConsumer(
        r, Sink(engine, tables), codec, live, deltas,
        streams=[stream_of(s) for s in codec.systems], name=name, batch=settings.batch_size,
        claim_idle_ms=settings.claim_idle_ms, max_tries=settings.max_tries,
        on_applied=pusher.note if pusher is not None else None,
    )
    return consumer, pusher


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="c1")
    parser.add_argument("--poison-person", default=None)
    parser.add_argument("--no-push", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import app
    from settings import load_settings
    from streams.worker import run_worker

    settings = load_settings()
    consumer, pusher = build_worker(settings, args.name, poison_person=args.poison_person, push=not args.no_push)
    stop = app._stop_on_signals()
    logging.getLogger("fault.worker").info("worker %s consuming %s (claim idle %d ms, batch %d)", args.name,
                                           consumer.streams, consumer.claim_idle_ms, consumer.batch)
    run_worker(consumer, pusher, stop, stream_cap=settings.stream_cap, lag_alarm_s=settings.lag_alarm_s)


if __name__ == "__main__":
    main()
