"""XADD to DOM on a big screen: the real product (`app.py run`) and headless Chromium showing
`/screens/canteen`, with canteen meals XADDed at a steady rate (issue 11's first benchmark).

Set-up: `RealApp` from tests/browser/test_real_app.py (SIMULATORS=0, BACKFILL_DAYS=0, embedded Redis
and SQLite under a temp data dir, a free port); a leadership viewer signed in through the real login
in a 1920x1080 Playwright context; the page `/screens/canteen` open until its banner is hidden and
the "meals today" KPI shows a number.

How latency is measured: a MutationObserver on `#canteen--meals_today .sc-num` records
`performance.timeOrigin + performance.now()` and the text at every change (the page's own rendering
path: Socket.IO `update` -> per-topic state -> requestAnimationFrame -> text node). A producer thread
XADDs `settlements(...)` (one meal each, `Producer.submit`, one pipeline per 10 ms tick) and records
after each batch (wall time after `submit` returned, cumulative count). A shown value V means every
meal up to V is counted, so:
- newest: DOM time - submit time of the first batch whose cumulative count (plus the value shown
  before the load) reached V, i.e. the delay of the newest meal the change shows;
- oldest (bound): DOM time - submit time of the first batch the previous value did not include yet;
  the age of the oldest meal first shown by this change (server coalescing and the page's 100 ms
  redraw gap included).
Both clocks are this host's wall clock (Chromium's timeOrigin + now, Python's time.time()); the
skew between them is estimated and printed. Changes in the first `--warmup` seconds are dropped.
The same two figures "at the socket" use the `update` frames instead (their `sums` carry the same
count; receipt time in Python, one Playwright driver hop after the browser got it): the part of the
delay spent before the page's own redraw.

Bytes: every websocket frame the page receives is captured (`page.on("websocket")`); `update` frames
of the screen's topic (`42/live,["update",{"topic":"screen:canteen",...}]`) are counted by their
UTF-8 length, per message and per panel that message changes (a panel changes when one of its live
bindings is a key of the message's sums, levels, lasts or minute series).

    .venv/bin/python -m bench.bench_screen_dom [--rate 2000] [--seconds 60] [--warmup 5]
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import machine, percentiles, table, write_json  # noqa: E402

SCREEN = "canteen"
PANEL = "meals_today"
NUM = f"#{SCREEN}--{PANEL} .sc-num"
TARGET_P95_MS = 150.0
TARGET_PANEL_BYTES = 1024
DASH = "\u2014"
WAIT_MS = 30_000
LOG_MAX = 20_000  # entries the page keeps between two drains
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

OBSERVE_JS = """([sel, max]) => {
  const el = document.querySelector(sel);
  const log = [];
  window.__benchDom = log;
  window.__benchDomObs = new MutationObserver(() => {
    log.push([performance.timeOrigin + performance.now(), el.textContent]);
    if (log.length > max) { log.splice(0, log.length - max); }
  });
  window.__benchDomObs.observe(el, {childList: true, characterData: true, subtree: true});
  return el.textContent;
}"""
DRAIN_JS = "() => window.__benchDom.splice(0)"
NOW_JS = "() => performance.timeOrigin + performance.now()"


# --- what a message changes ------------------------------------------------------------------------------
def panel_patterns(screen_id: str) -> dict[str, list[str]]:
    """Per panel of the screen: the live metric patterns it shows (placeholders as `*`)."""
    from bench.push_stack import load_screens
    from callbacks.screen_topics import ALARM_LEVELS
    from screens.model import AlarmTickerPanel

    lib = load_screens()
    out: dict[str, list[str]] = {}
    for panel in lib.screens[screen_id].panels:
        pats = [re.sub(r"\{[a-z][a-z0-9_]*\}", "*", b.live) for _, b in panel.bindings() if b.live]
        if isinstance(panel, AlarmTickerPanel):
            pats.append(ALARM_LEVELS)
        out[panel.id] = pats
    return out


def panels_changed(msg: dict[str, Any], patterns: dict[str, list[str]]) -> list[str]:
    keys = [k for part in ("sums", "levels", "lasts", "minute") for k in (msg.get(part) or {})]
    return [pid for pid, pats in patterns.items() if any(fnmatchcase(k, p) for k in keys for p in pats)]


def parse_update(frame: str, topic: str) -> dict[str, Any] | None:
    """The payload of a Socket.IO `update` event on /live for `topic`, else None."""
    head = '42/live,["update",'
    if not frame.startswith(head):
        return None
    try:
        event, msg = json.loads(frame[len("42/live,"):])[:2]
    except (ValueError, TypeError):
        return None
    return msg if isinstance(msg, dict) and msg.get("topic") == topic else None


# --- load ------------------------------------------------------------------------------------------------
class Load(threading.Thread):
    """XADD `rate` meals/s for `seconds` in one pipeline per `tick`; records (time after submit, cumulative)."""

    def __init__(self, producer: Any, rate: float, seconds: float, seq0: int, tick: float = 0.01):
        super().__init__(name="bench-load", daemon=True)
        self.producer, self.rate, self.seconds, self.seq0, self.tick = producer, rate, seconds, seq0, tick
        self.batches: list[tuple[float, int]] = []
        self.late_ticks = 0
        self.error: BaseException | None = None
        self.started_at = self.ended_at = 0.0

    def run(self) -> None:
        from tests.realapp import settlements

        try:
            sent = 0
            self.started_at = time.time()
            t0 = next_tick = time.monotonic()
            while (elapsed := time.monotonic() - t0) < self.seconds:
                due = int(self.rate * elapsed) - sent
                if due > 0:
                    self.producer.submit(settlements(due, self.seq0 + sent))
                    sent += due
                    self.batches.append((time.time(), sent))
                next_tick += self.tick
                delay = next_tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    self.late_ticks += 1
                    next_tick = time.monotonic()
            self.ended_at = time.time()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.ended_at = time.time()


# --- CPU of the processes involved -----------------------------------------------------------------------
def _kind(proc: Any) -> str:
    name = proc.name()
    if "chrom" in name or "headless_shell" in name:
        return "chromium"
    if "redis" in name:
        return "redis"
    if name.startswith("node"):
        return "playwright"
    return "app"


def cpu_by_kind(pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) of the given processes, summed by kind, plus this process as `bench`."""
    import psutil

    out: dict[str, float] = {}
    for pid in pids:
        try:
            p = psutil.Process(pid)
            t = p.cpu_times()
            out[_kind(p)] = out.get(_kind(p), 0.0) + t.user + t.system
        except psutil.Error:
            pass
    t = psutil.Process().cpu_times()
    out["bench"] = t.user + t.system
    return out


def descendants() -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process().children(recursive=True)]


# --- figures ---------------------------------------------------------------------------------------------
def clock_skew_ms(page: Any, samples: int = 7) -> dict[str, float]:
    """Browser wall clock minus Python's, from the sample with the shortest round trip."""
    best = (float("inf"), 0.0)
    for _ in range(samples):
        a = time.time()
        b = page.evaluate(NOW_JS) / 1000.0
        c = time.time()
        best = min(best, ((c - a) * 1000, (b - (a + c) / 2) * 1000))
    return {"skew_ms": round(best[1], 2), "round_trip_ms": round(best[0], 2)}


def latencies(changes: list[tuple[float, int]], batches: list[tuple[float, int]], base: int,
              prev0: int) -> tuple[list[dict[str, float]], int]:
    """Per DOM change (seconds, shown value): newest and oldest-bound latency in ms; also the unmatched count."""
    cums = [base + c for _, c in batches]
    out, unmatched, prev = [], 0, prev0
    for t, v in changes:
        i = bisect.bisect_left(cums, v)  # first batch whose cumulative count reaches v
        if v <= prev0 or i >= len(cums):
            unmatched += 1
            prev = max(prev, v)
            continue
        j = bisect.bisect_right(cums, prev)  # first batch the previous value did not include
        out.append({"t": t, "value": v, "newest_ms": (t - batches[i][0]) * 1000,
                    "oldest_ms": (t - batches[min(j, i)][0]) * 1000})
        prev = v
    return out, unmatched


def ms(p: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in p.items()}


# --- the run ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    from tests.realapp import RealApp, settlements

    topic = f"screen:{SCREEN}"
    patterns = panel_patterns(SCREEN)
    metric = patterns[PANEL][0]  # canteen.meals
    frames: list[tuple[float, str]] = []

    def on_ws(ws: Any) -> None:
        ws.on("framereceived", lambda f: frames.append(
            (time.time(), f if isinstance(f, str) else f.decode("utf-8", errors="replace"))))

    with tempfile.TemporaryDirectory(prefix="bench-screen-") as tmp, sync_playwright() as pw:
        app = RealApp(Path(tmp))
        browser = None
        try:
            t_boot = time.time()
            app.start()
            boot_s = time.time() - t_boot
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            page = context.new_page()
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            app.sign_in_viewer(page)
            page.on("websocket", on_ws)
            page.goto(f"{app.url}/screens/{SCREEN}")
            num = page.locator(NUM)
            expect(num).to_be_attached(timeout=WAIT_MS)
            expect(page.locator(".sc-banner")).to_be_hidden(timeout=WAIT_MS)
            producer = app.producer()
            seq = 1
            try:
                expect(num).not_to_have_text(DASH, timeout=5_000)
            except AssertionError:  # no meal today yet: show one batch so the panel has a number
                producer.submit(settlements(20, seq))
                seq += 20
                expect(num).not_to_have_text(DASH, timeout=WAIT_MS)
            page.wait_for_timeout(1_000)  # let the first values settle
            base = int(re.sub(r"\D", "", page.evaluate(OBSERVE_JS, [NUM, LOG_MAX])) or 0)
            skew0 = clock_skew_ms(page)
            frames.clear()

            procs = descendants()
            load = Load(producer, args.rate, args.warmup + args.seconds, seq)
            dom: list[tuple[float, str]] = []
            load.start()
            cpu0, m0 = None, 0.0
            while load.is_alive():  # the main thread keeps Playwright's events flowing and drains the page log
                page.wait_for_timeout(250)
                dom.extend(page.evaluate(DRAIN_JS))
                if cpu0 is None and time.time() - load.started_at >= args.warmup:
                    cpu0, m0 = cpu_by_kind(procs), time.time()
            load.join()
            cpu1, m1 = cpu_by_kind(procs), time.time()
            if load.error is not None:
                raise load.error
            sent = load.batches[-1][1] if load.batches else 0
            expected = base + sent
            try:  # the last value: every meal shown, nothing lost
                expect(num).to_have_text(f"{expected:,}", timeout=args.drain * 1000)
                complete = True
            except AssertionError:
                complete = False
            page.wait_for_timeout(300)
            dom.extend(page.evaluate(DRAIN_JS))
            skew1 = clock_skew_ms(page)
            final_text = num.inner_text()
            loadavg = os.getloadavg()
        finally:
            if browser is not None:
                browser.close()
            app.kill()
            app.stop_redis()

    # --- DOM changes -> latency
    changes = [(t / 1000.0, int(re.sub(r"\D", "", s) or 0)) for t, s in dom if re.search(r"\d", s)]
    samples, unmatched = latencies(changes, load.batches, base, base)
    w0 = load.started_at + args.warmup
    measured = [s for s in samples if s["t"] >= w0]
    warm = [s for s in samples if s["t"] < w0]
    ups = sum(1 for t, _ in changes if w0 <= t <= load.ended_at) / max(1e-9, load.ended_at - w0)

    # --- update frames -> bytes
    msgs = []
    for t, f in frames:
        msg = parse_update(f, topic)
        if msg is None:
            continue
        changed = panels_changed(msg, patterns)
        size = len(f.encode("utf-8"))
        shown = (msg.get("sums") or {}).get(metric)
        msgs.append({"t": t, "bytes": size, "panels": len(changed), "series": bool(msg.get("minute")),
                     "per_panel": size / len(changed) if changed else None, "changed": changed,
                     "value": int(shown) if isinstance(shown, int | float) else None})
    # the same latencies at the page's socket (frame receipt in Python, a driver hop after the browser)
    at_socket, _ = latencies([(m["t"], m["value"]) for m in msgs if m["value"] is not None], load.batches, base, base)
    at_socket = [s for s in at_socket if s["t"] >= w0]
    in_window = [m for m in msgs if w0 <= m["t"] <= load.ended_at + 1.0]
    sizes = [m["bytes"] for m in in_window]
    per_panel = [m["per_panel"] for m in in_window if m["per_panel"] is not None]
    plain = [m["bytes"] for m in in_window if not m["series"]]
    with_series = [m["bytes"] for m in in_window if m["series"]]
    panel_counts = sorted({m["panels"] for m in in_window})
    changed_panels = sorted({p for m in in_window for p in m["changed"]})

    newest = [s["newest_ms"] for s in measured]
    oldest = [s["oldest_ms"] for s in measured]
    n_cpu = (m1 - m0) if cpu0 is not None else 0.0
    cpu = {k: round(100 * (v - (cpu0 or {}).get(k, 0.0)) / n_cpu, 1) for k, v in cpu1.items()} if n_cpu else {}
    return {
        "rate": args.rate, "seconds": args.seconds, "warmup_s": args.warmup, "app_boot_s": round(boot_s, 1),
        "sent": sent, "rate_sent": round(sent / max(1e-9, load.ended_at - load.started_at), 1),
        "late_ticks": load.late_ticks, "batches": len(load.batches),
        "base_value": base, "expected_final": expected, "final_text": final_text, "complete": complete,
        "dom_changes": len(changes), "measured_changes": len(measured), "warmup_changes": len(warm),
        "unmatched_changes": unmatched, "dom_updates_per_s": round(ups, 2),
        "latency_newest_ms": ms(percentiles(newest, (50, 95, 99, 100))),
        "latency_oldest_bound_ms": ms(percentiles(oldest, (50, 95, 99, 100))),
        "socket_latency_newest_ms": ms(percentiles([s["newest_ms"] for s in at_socket], (50, 95, 99, 100))),
        "socket_latency_oldest_bound_ms": ms(percentiles([s["oldest_ms"] for s in at_socket], (50, 95, 99, 100))),
        "dom_change_gap_ms": ms(percentiles([1000 * (b["t"] - a["t"]) for a, b in zip(measured, measured[1:])],
                                            (10, 90, 100))),
        "latency_newest_warmup_ms": ms(percentiles([s["newest_ms"] for s in warm], (50, 95, 100))),
        "met": bool(newest) and percentiles(newest)["p95"] <= TARGET_P95_MS,
        "update_messages": len(in_window),
        "messages_per_s": round(len(in_window) / max(1e-9, load.ended_at - w0), 2),
        "bytes_per_message": {"median": _median(sizes), "p95": _p95(sizes), "max": max(sizes, default=None)},
        "bytes_per_message_without_series": {"n": len(plain), "median": _median(plain), "p95": _p95(plain)},
        "bytes_per_message_with_series": {"n": len(with_series), "median": _median(with_series),
                                          "p95": _p95(with_series)},
        "bytes_per_panel": {"median": _median(per_panel), "p95": _p95(per_panel)},
        "met_bytes": bool(per_panel) and statistics.median(per_panel) <= TARGET_PANEL_BYTES,
        "screen_panels": len(patterns), "screen_data_panels": sum(1 for p in patterns.values() if p),
        "panels_changed_per_message": panel_counts, "panels_changed": changed_panels,
        "clock_skew": {"before": skew0, "after": skew1}, "cpu_pct": cpu, "loadavg_end": [round(x, 2) for x in loadavg],
        "console_errors": console_errors[:20],
        "samples": [{k: round(v, 3) if isinstance(v, float) else v for k, v in s.items()} for s in samples],
        "messages": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()} for m in msgs],
    }


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def _p95(xs: list[float]) -> float | None:
    return round(percentiles(xs, (95,))["p95"], 1) if xs else None


def _n(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _ppp(p: dict[str, float]) -> str:
    return f"{p['p50']:.0f}/{p['p95']:.0f}/{p['p99']:.0f}/{p['p100']:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="meals/s XADDed (default 2,000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds after the warm-up (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of DOM changes dropped first (default 5)")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for the last value after the load")
    parser.add_argument("--out", default="screen_dom")
    args = parser.parse_args()

    print(f"XADD -> DOM on /screens/{SCREEN} ({NUM}): {args.rate:,.0f} meals/s for {args.warmup:g} + "
          f"{args.seconds:g} s", flush=True)
    res = run(args)
    done = "complete" if res["complete"] else "INCOMPLETE"
    print(f"sent {res['sent']:,} meals ({res['rate_sent']:,.0f}/s, {res['late_ticks']} late ticks); shown "
          f"{res['final_text']} (expected {res['expected_final']:,}: {done})")
    sk0, sk1 = res["clock_skew"]["before"], res["clock_skew"]["after"]
    print(f"clock skew browser - python: {sk0['skew_ms']:+.1f} ms (rtt {sk0['round_trip_ms']:.1f}) before, "
          f"{sk1['skew_ms']:+.1f} ms (rtt {sk1['round_trip_ms']:.1f}) after")
    if res["unmatched_changes"]:
        print(f"note: {res['unmatched_changes']} DOM changes matched no batch (the initial value or a foreign count)")
    print()
    bm, bp = res["bytes_per_message"], res["bytes_per_panel"]
    rows = [
        {"what": "newest, ms (p50/p95/p99/max)", "value": _ppp(res["latency_newest_ms"]),
         "target": f"p95 <= {TARGET_P95_MS:.0f}", "met": "yes" if res["met"] else "no"},
        {"what": "oldest bound, ms (p50/p95/p99/max)", "value": _ppp(res["latency_oldest_bound_ms"])},
        {"what": "at the socket: newest, ms (p50/p95/p99/max)", "value": _ppp(res["socket_latency_newest_ms"])},
        {"what": "at the socket: oldest bound, ms (p50/p95/p99/max)",
         "value": _ppp(res["socket_latency_oldest_bound_ms"])},
        {"what": "gap between DOM changes, ms (p10/p90/max)",
         "value": "{p10:.0f}/{p90:.0f}/{p100:.0f}".format(**res["dom_change_gap_ms"])},
        {"what": f"newest in warm-up ({res['warmup_changes']} changes), ms p50/p95/max",
         "value": "{p50:.0f}/{p95:.0f}/{p100:.0f}".format(**res["latency_newest_warmup_ms"])},
        {"what": "DOM updates/s (measured changes)",
         "value": f"{res['dom_updates_per_s']:.1f} ({res['measured_changes']})"},
        {"what": "update messages/s (screen topic)",
         "value": f"{res['messages_per_s']:.1f} ({res['update_messages']})"},
        {"what": "bytes per message (median/p95/max)", "value": f"{_n(bm['median'])}/{_n(bm['p95'])}/{_n(bm['max'])}"},
        {"what": "  without series (median/p95, n)", "value": "{median}/{p95} ({n})".format(
            **res["bytes_per_message_without_series"])},
        {"what": "  with minute series (median/p95, n)", "value": "{median}/{p95} ({n})".format(
            **res["bytes_per_message_with_series"])},
        {"what": "bytes per changed panel (median/p95)", "value": f"{_n(bp['median'])}/{_n(bp['p95'])}",
         "target": f"median <= {TARGET_PANEL_BYTES}", "met": "yes" if res["met_bytes"] else "no"},
        {"what": "panels: screen / with live data / changed per message",
         "value": f"{res['screen_panels']} / {res['screen_data_panels']} / "
                  + ",".join(str(n) for n in res["panels_changed_per_message"])},
        {"what": "CPU % (measured window)", "value": " ".join(f"{k} {v:.0f}" for k, v in res["cpu_pct"].items())},
    ]
    print(table(rows, [("what", "figure"), ("value", "value"), ("target", "target"), ("met", "met")],
                title=f"XADD -> DOM, /screens/{SCREEN}, {res['rate_sent']:,.0f} events/s, {args.seconds:g} s measured"))
    path = write_json(args.out, {
        "bench": "screen_dom", "machine": machine(), "args": vars(args), "result": res,
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
