"""Clients of the dcc.Interval baseline (bench/baseline_interval_app.py), as browser tabs drive it: each
fetches `/_dash-dependencies` once, then POSTs the interval's callback to `/_dash-update-component`
every second (the request body the Dash renderer sends when `n_intervals` changes), one request in
flight at a time, each client on its own keep-alive session and its own phase within the second.

They run in child processes (`python -m bench.common poll ...`, spread by ClientProcs) and record per
response: receipt wall time, the newest event time the response shows (`asof.title`), the round trip
and the body's size; the first client of a process also its gzip size (what a compressing server
would send).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import sys
import time
from pathlib import Path
from typing import Any


def request_body(dependency: dict[str, Any], n: int) -> dict[str, Any]:
    """What the renderer POSTs for an interval tick of a multi-output callback."""
    out = dependency["output"]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in out.strip(".").split("...")]
    inputs = [{**i, "value": n} for i in dependency["inputs"]]
    return {"output": out, "outputs": outputs, "inputs": inputs, "state": [],
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs]}


def run_pollers(url: str, n: int, out_path: str, *, period: float = 1.0, cookie: str = "") -> None:
    """N pollers in this process; `ready` once each has its dependency, samples written on a `stop` line."""
    import aiohttp

    samples: list[tuple[float, int, float, int]] = []  # (receipt, newest ms, round trip s, body bytes)
    gz: list[int] = []
    errors: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()
        headers = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}

        async def one(i: int, dep: dict[str, Any]) -> None:
            async with aiohttp.ClientSession(headers=headers) as session:
                k, start = 0, time.monotonic() + random.random() * period
                while not stop.is_set():
                    await asyncio.sleep(max(0.0, start + k * period - time.monotonic()))
                    k += 1
                    sent = time.monotonic()
                    try:
                        async with session.post(f"{url}/_dash-update-component", json=request_body(dep, k)) as resp:
                            body = await resp.read()
                    except aiohttp.ClientError as exc:
                        errors.append(str(exc)[:200])
                        continue
                    recv = time.time()
                    if resp.status != 200:
                        errors.append(f"HTTP {resp.status}: {body[:200]!r}")
                        continue
                    asof = json.loads(body)["response"]["asof"]["title"]
                    samples.append((recv, int(asof), time.monotonic() - sent, len(body)))
                    if i == 0:
                        gz.append(len(gzip.compress(body, 6)))
                    k = max(k, int((time.monotonic() - start) / period))  # a late tick is not made up for

        async with aiohttp.ClientSession() as s, s.get(f"{url}/_dash-dependencies") as resp:
            dep = next(d for d in await resp.json() if any(i["property"] == "n_intervals" for i in d["inputs"]))
        tasks = [asyncio.create_task(one(i, dep)) for i in range(n)]
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stop.set()
        for t in tasks:
            t.cancel()  # a request still in flight is not waited for
        await asyncio.gather(*tasks, return_exceptions=True)
        Path(out_path).write_text(json.dumps({"clients": n, "samples": samples, "gzip_bytes": gz, "errors": errors,
                                              "connected_at_end": n}))

    asyncio.run(main())
