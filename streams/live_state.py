"""Live state in Redis: today's totals, per-minute series, levels, newest values, sources.

Every web process reads the same state. A batch's aggregated deltas are applied together
with the XACK of its entries in one Lua script guarded by the batch id, so the effect is
exactly once: a crash after the warehouse commit re-applies from the outbox and the guard
refuses the second application.

Keys (all under `live:`):
  sum:<day>            hash metric -> today's total (local day YYYYMMDD), kept 40 days
  min:<metric>:<day>   hash minute-of-day -> amount, kept 10 days (24 h charts, comparisons)
  level                hash metric -> current level
  last:<metric>        hash field -> JSON value; lastts:<metric> hash field -> event ms
  src                  hash source -> newest event ms; srcseq:<source> hash min/max/n
  applied:<batch>      guard, kept 7 days
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

import redis

APPLY_LUA = r"""
local guard = KEYS[1]
local stream = KEYS[2]
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
end
local acked = 0
if #ARGV > 3 then
  acked = redis.call('XACK', stream, group, unpack(ARGV, 4))
end
return {fresh, acked}
"""

GUARD_TTL_S = 7 * 86400


def wire(deltas: dict[str, Any]) -> str:
    """The delta dict as the Lua script reads it: `last` values pre-encoded as JSON strings."""
    out = dict(deltas)
    out["x"] = [[m, f, t, json.dumps(v, ensure_ascii=False, separators=(",", ":"))] for m, f, t, v in deltas["x"]]
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


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
        fresh, acked = self._apply(keys=[guard, stream], args=[group, "{}" if empty else wire(deltas),
                                                               GUARD_TTL_S, *ids])
        return bool(fresh), int(acked)

    # --- reads -----------------------------------------------------------------------------------------
    def day_key(self, when: dt.datetime) -> str:
        return when.astimezone(self.tz).strftime("%Y%m%d")

    def sums(self, day: str, metrics: Iterable[str] | None = None) -> dict[str, float]:
        if metrics is None:
            raw = self.r.hgetall(f"live:sum:{day}")
            return {_s(k): float(v) for k, v in raw.items()}
        names = list(metrics)
        vals = self.r.hmget(f"live:sum:{day}", names) if names else []
        return {m: float(v or 0) for m, v in zip(names, vals)}

    def levels(self, metrics: Iterable[str] | None = None) -> dict[str, float]:
        if metrics is None:
            return {_s(k): float(v) for k, v in self.r.hgetall("live:level").items()}
        names = list(metrics)
        vals = self.r.hmget("live:level", names) if names else []
        return {m: float(v or 0) for m, v in zip(names, vals)}

    def lasts(self, metric: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        if fields is None:
            raw = self.r.hgetall(f"live:last:{metric}")
            return {_s(k): json.loads(v) for k, v in raw.items()}
        names = list(fields)
        vals = self.r.hmget(f"live:last:{metric}", names) if names else []
        return {f: json.loads(v) for f, v in zip(names, vals) if v is not None}

    def minutes(self, metric: str, day: str, minutes: Iterable[int] | None = None) -> dict[int, float]:
        key = f"live:min:{metric}:{day}"
        if minutes is None:
            return {int(k): float(v) for k, v in self.r.hgetall(key).items()}
        names = list(minutes)
        vals = self.r.hmget(key, names) if names else []
        return {m: float(v or 0) for m, v in zip(names, vals)}

    def series(self, metric: str, end: dt.datetime, count: int) -> list[tuple[int, float]]:
        """The last `count` whole minutes up to `end` as (minute start epoch ms, amount), oldest first."""
        end_local = end.astimezone(self.tz).replace(second=0, microsecond=0)
        stamps = [end_local - dt.timedelta(minutes=i) for i in range(count - 1, -1, -1)]
        by_day: dict[str, list[int]] = {}
        for s in stamps:
            by_day.setdefault(s.strftime("%Y%m%d"), []).append(s.hour * 60 + s.minute)
        with self.r.pipeline(transaction=False) as p:
            for day, mins in by_day.items():
                p.hmget(f"live:min:{metric}:{day}", mins)
            replies = p.execute()
        values: dict[tuple[str, int], float] = {}
        for (day, mins), vals in zip(by_day.items(), replies):
            for m, v in zip(mins, vals):
                values[(day, m)] = float(v or 0)
        return [(int(s.timestamp() * 1000), values[(s.strftime("%Y%m%d"), s.hour * 60 + s.minute)]) for s in stamps]

    def cumulative(self, metric: str, day: str, upto_minute: int) -> float | None:
        """Total of a sum metric on `day` from midnight through minute `upto_minute`; None if no data is kept."""
        raw = self.r.hgetall(f"live:min:{metric}:{day}")
        if not raw:
            return None
        return sum(float(v) for k, v in raw.items() if int(k) <= upto_minute)

    def sources(self) -> dict[str, int]:
        return {_s(k): int(v) for k, v in self.r.hgetall("live:src").items()}

    def seq_gaps(self) -> dict[str, int]:
        """Per source: sequence numbers never seen between the lowest and highest seen (new events only)."""
        out: dict[str, int] = {}
        for source in self.sources():
            raw = self.r.hgetall(f"live:srcseq:{source}")
            if raw:
                v = {_s(k): int(x) for k, x in raw.items()}
                out[source] = v["max"] - v["min"] + 1 - v["n"]
        return out


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x
