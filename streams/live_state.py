"""Live state in Redis: today's totals, per-minute series, levels, newest values, sources.

Every web process reads the same state. A batch's aggregated deltas are applied together
with the XACK of its entries in one Lua script guarded by the batch id, so the effect is
exactly once: a crash after the warehouse commit re-applies from the outbox and the guard
refuses the second application.

The same script moves the state version `live:ver` forward, so every state the readers can
see has a version of its own. `LiveState.read` reads values together with that version in one
MULTI/EXEC: a message built from it says exactly which state its numbers come from, and a
page can tell an update older than its snapshot from a newer one (streams/topics.py).

Keys (all under `live:`):
  sum:<day>            hash metric -> today's total (local day YYYYMMDD), kept 40 days
  min:<metric>:<day>   hash minute-of-day -> amount, kept 10 days (24 h charts, comparisons)
  level                hash metric -> current level
  last:<metric>        hash field -> JSON value; lastts:<metric> hash field -> event ms
  src                  hash source -> newest event ms; srcseq:<source> hash min/max/n
  ver                  the state version (see VERSION_KEY)
  applied:<batch>      guard, kept 7 days
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import msgspec
import redis

APPLY_LUA = r"""
local guard = KEYS[1]
local stream = KEYS[2]
local version = KEYS[3]
local group = ARGV[1]
local ttl = tonumber(ARGV[3])
local fresh = 0
if guard ~= '' and redis.call('SET', guard, '1', 'NX', 'EX', ttl) then
  fresh = 1
  local d = cjson.decode(ARGV[2])
  -- minute buckets one by one; today's totals summed per day and metric first; one EXPIRE per key
  local days, minute_keys = {}, {}
  for _, s in ipairs(d['s']) do
    local metric, day, minute, amount = s[1], s[2], s[3], s[4]
    local mk = 'live:min:' .. metric .. ':' .. day
    redis.call('HINCRBYFLOAT', mk, minute, amount)
    minute_keys[mk] = true
    local sk = 'live:sum:' .. day
    local per = days[sk]
    if not per then per = {}; days[sk] = per end
    per[metric] = (per[metric] or 0) + amount
  end
  for mk, _ in pairs(minute_keys) do redis.call('EXPIRE', mk, 864000) end
  for sk, per in pairs(days) do
    for metric, amount in pairs(per) do redis.call('HINCRBYFLOAT', sk, metric, amount) end
    redis.call('EXPIRE', sk, 3456000)
  end
  for _, l in ipairs(d['l']) do
    redis.call('HINCRBYFLOAT', 'live:level', l[1], l[2])
  end
  for _, x in ipairs(d['x']) do
    local metric, field, ts, value = x[1], x[2], x[3], x[4]
    local prev = tonumber(redis.call('HGET', 'live:lastts:' .. metric, field) or '-1')
    if ts >= prev then
      redis.call('HSET', 'live:last:' .. metric, field, value)
      redis.call('HSET', 'live:lastts:' .. metric, field, string.format('%d', ts))
    end
  end
  for _, s in ipairs(d['src']) do
    local source, ts, mn, mx, n = s[1], s[2], s[3], s[4], s[5]
    local prev = tonumber(redis.call('HGET', 'live:src', source) or '-1')
    if ts > prev then redis.call('HSET', 'live:src', source, string.format('%d', ts)) end
    local qk = 'live:srcseq:' .. source
    local cur = redis.call('HMGET', qk, 'min', 'max')
    if (not cur[1]) or mn < tonumber(cur[1]) then redis.call('HSET', qk, 'min', string.format('%d', mn)) end
    if (not cur[2]) or mx > tonumber(cur[2]) then redis.call('HSET', qk, 'max', string.format('%d', mx)) end
    redis.call('HINCRBY', qk, 'n', n)
  end
  -- the state version moves forward with the state it labels (VERSION_KEY): Redis's clock in microseconds
  local now = redis.call('TIME')
  local ver = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local prev = tonumber(redis.call('GET', version) or '0')
  if ver <= prev then ver = prev + 1 end
  redis.call('SET', version, string.format('%.0f', ver))
end
local acked = 0
if #ARGV > 3 then
  acked = redis.call('XACK', stream, group, unpack(ARGV, 4))
end
return {fresh, acked}
"""

GUARD_TTL_S = 7 * 86400

# The state version, moved forward by every applied batch in the script that applies it, so a state and its
# version never part. It is Redis's clock in microseconds, or the previous version + 1 when the clock would not
# move it forward. A plain counter (INCR) would go back after Redis lost data (a restart without AOF, the last
# seconds of an `everysec` AOF, a restore from an older backup): every open page would then drop the new state's
# updates as older than its snapshot, showing old numbers as current until it reconnected. A clock reading is
# above every version handed out before the loss (unless Redis's clock was set back meanwhile). Microseconds stay
# below 2**53, so a browser's Number holds them exactly. 0 means no batch was ever applied.
VERSION_KEY = "live:ver"

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
Command = tuple[Any, ...]


def wire(deltas: dict[str, Any]) -> bytes:
    """The delta dict as the Lua script reads it: `last` values pre-encoded as JSON strings.

    msgspec, not json.dumps: a batch carries ~700 `last` values, and json.dumps per value was 7 µs of
    every event's CPU here (msgspec: 0.8), with the same compact UTF-8 text."""
    out = dict(deltas)
    out["x"] = [[m, f, t, _encode(v).decode()] for m, f, t, v in deltas["x"]]
    return _encode(out)


_encode = msgspec.json.Encoder(decimal_format="number").encode


# --- reads ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Read(Generic[T]):
    """One read of live state: the Redis commands it sends and how their replies become its value.

    Commands and parsing are kept apart so that the same read runs on its own (`LiveState.get`) or together
    with others and the state version in one transaction (`LiveState.read`), with one copy of the parsing.
    """

    commands: tuple[Command, ...]
    parse: Callable[[Sequence[Any]], T]  # the replies of `commands`, in order


def sums_read(day: str, metrics: Iterable[str] | None = None) -> Read[dict[str, float]]:
    """Totals of the local day `day` (YYYYMMDD): all of them, or the named ones (0 before their first event)."""
    return _hash_read(f"live:sum:{day}", metrics, _s, float, 0.0)


def levels_read(metrics: Iterable[str] | None = None) -> Read[dict[str, float]]:
    """Current levels: all of them, or the named ones (0 before their first event)."""
    return _hash_read("live:level", metrics, _s, float, 0.0)


def lasts_read(metric: str, fields: Iterable[str] | None = None) -> Read[dict[str, Any]]:
    """Newest value per entity of a `last` metric: all entities, or the named ones that have a value."""
    return _hash_read(f"live:last:{metric}", fields, _s, json.loads, None)


def minutes_read(metric: str, day: str, minutes: Iterable[int] | None = None) -> Read[dict[int, float]]:
    """Per-minute amounts (minute of the local day -> amount): all buckets, or the named ones (0 if empty)."""
    return _hash_read(f"live:min:{metric}:{day}", minutes, int, float, 0.0)


def sources_read(names: Iterable[str] | None = None) -> Read[dict[str, int]]:
    """Newest event time (epoch ms) per source: all sources, or the named ones that have sent anything."""
    return _hash_read("live:src", names, _s, int, None)


def series_read(metric: str, end: dt.datetime, count: int, tz: ZoneInfo) -> Read[list[tuple[int, float]]]:
    """The last `count` whole minutes up to `end` as (minute start epoch ms, amount), oldest first."""
    end_local = end.astimezone(tz).replace(second=0, microsecond=0)
    stamps = [end_local - dt.timedelta(minutes=i) for i in range(count - 1, -1, -1)]
    # one day name per date, not per minute: strftime for each of a day's 1,440 minutes was most of the
    # cost of a snapshot, and 200 walls resubscribing at once after a web restart wait for all of theirs
    names = {d: d.strftime("%Y%m%d") for d in {s.date() for s in stamps}}
    keyed = [(names[s.date()], s.hour * 60 + s.minute) for s in stamps]
    by_day: dict[str, list[int]] = {}
    for day, minute in keyed:
        by_day.setdefault(day, []).append(minute)
    per_day = [minutes_read(metric, day, mins) for day, mins in by_day.items()]

    def parse(replies: Sequence[Any]) -> list[tuple[int, float]]:
        values = {(day, m): v for day, got in zip(by_day, _parse_all(per_day, replies)) for m, v in got.items()}
        return [(int(s.timestamp() * 1000), values[k]) for s, k in zip(stamps, keyed)]

    return Read(tuple(c for rd in per_day for c in rd.commands), parse)


def _parse_all(reads: Sequence[Read[Any]], replies: Sequence[Any]) -> list[Any]:
    """Each read's value from the replies of all their commands, sent one read after the other."""
    values, at = [], 0
    for rd in reads:
        values.append(rd.parse(replies[at:at + len(rd.commands)]))
        at += len(rd.commands)
    return values


def _hash_read(key: str, fields: Iterable[K] | None, name: Callable[[Any], K], value: Callable[[Any], V],
               missing: V | None) -> Read[dict[K, V]]:
    """All of a hash (HGETALL) or the named fields (HMGET); a named field the hash lacks reads as `missing`,
    or is left out when `missing` is None."""
    if fields is None:
        return Read((("HGETALL", key),), lambda replies: {name(k): value(v) for k, v in replies[0].items()})
    names = list(fields)
    if not names:
        return Read((), lambda _replies: {})

    def parse(replies: Sequence[Any]) -> dict[K, V]:
        return {n: value(v) if v is not None else missing for n, v in zip(names, replies[0])
                if v is not None or missing is not None}

    return Read((("HMGET", key, *names),), parse)


class LiveState:
    """Writes (apply) and reads (snapshots) of the live picture."""

    def __init__(self, r: redis.Redis, tz: ZoneInfo):
        self.r = r
        self.tz = tz
        self._apply = r.register_script(APPLY_LUA)

    def apply(self, batch_id: str, deltas: dict[str, Any], *, stream: str = "", group: str = "",
              ids: Sequence[bytes | str] = ()) -> tuple[bool, int]:
        """Apply a batch once and XACK its entries atomically; returns (applied now, acked count)."""
        empty = not (deltas.get("s") or deltas.get("l") or deltas.get("x") or deltas.get("src"))
        guard = "" if empty else f"live:applied:{batch_id}"
        fresh, acked = self._apply(keys=[guard, stream, VERSION_KEY],
                                   args=[group, "{}" if empty else wire(deltas), GUARD_TTL_S, *ids])
        return bool(fresh), int(acked)

    # --- reads -----------------------------------------------------------------------------------------
    def read(self, *reads: Read[Any]) -> tuple[int, list[Any]]:
        """The reads and the version of the state they show, in one MULTI/EXEC: (version, values in order).

        Redis runs no other command, so no apply, inside a transaction: every value comes from exactly the
        state of that version, however late the caller is. Reading the version before or after the values
        in separate calls would let an apply slip in between and label values with a version they are not.
        """
        commands = [("GET", VERSION_KEY), *(c for rd in reads for c in rd.commands)]
        replies = self._execute(commands, transaction=True)
        return int(replies[0] or 0), _parse_all(reads, replies[1:])

    def get(self, read: Read[T]) -> T:
        """One read on its own, without the version (its commands pipelined, not in a transaction)."""
        return read.parse(self._execute(read.commands, transaction=False))

    def _execute(self, commands: Sequence[Command], *, transaction: bool) -> list[Any]:
        if not commands:
            return []
        with self.r.pipeline(transaction=transaction) as p:
            for command in commands:
                p.execute_command(*command)
            return p.execute()

    def day_key(self, when: dt.datetime) -> str:
        return when.astimezone(self.tz).strftime("%Y%m%d")

    def sums(self, day: str, metrics: Iterable[str] | None = None) -> dict[str, float]:
        return self.get(sums_read(day, metrics))

    def levels(self, metrics: Iterable[str] | None = None) -> dict[str, float]:
        return self.get(levels_read(metrics))

    def lasts(self, metric: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return self.get(lasts_read(metric, fields))

    def minutes(self, metric: str, day: str, minutes: Iterable[int] | None = None) -> dict[int, float]:
        return self.get(minutes_read(metric, day, minutes))

    def sources(self) -> dict[str, int]:
        return self.get(sources_read())

    def series(self, metric: str, end: dt.datetime, count: int) -> list[tuple[int, float]]:
        """The last `count` whole minutes up to `end` as (minute start epoch ms, amount), oldest first."""
        return self.get(series_read(metric, end, count, self.tz))

    def cumulative(self, metric: str, day: str, upto_minute: int) -> float | None:
        """Total of a sum metric on `day` from midnight through minute `upto_minute`; None if no data is kept."""
        buckets = self.minutes(metric, day)
        if not buckets:
            return None
        return sum(v for m, v in buckets.items() if m <= upto_minute)

    def seq_gaps(self) -> dict[str, int]:
        """Per source: sequence numbers never seen between the lowest and highest seen (new events only)."""
        out: dict[str, int] = {}
        for source in self.sources():
            v = self.get(_hash_read(f"live:srcseq:{source}", None, _s, int, None))
            if v:
                out[source] = v["max"] - v["min"] + 1 - v["n"]
        return out


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x
