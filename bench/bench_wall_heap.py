"""A wall left running: the JS heap and DOM of one headless Chromium tab on `/wall/leadership?kiosk=1`
over `--minutes` (default 120), while the product is fed at the simulators' realistic rate.

Set-up: `RealApp` from tests/browser/test_real_app.py (`app.py run`: embedded Redis, SQLite, the worker)
with SIMULATORS=1 (the built-in simulators feed every system at SIM_RATE, `--sim-rate`, default 1 = the
compound's own pace), BACKFILL_DAYS=0 and SCREENS_DIR on a copy of screens/ (so colleagues' edits in the
working tree do not hot-reload the wall mid-run); a display token for the `leadership` playlist paired through
`/pair/<code>` (the wall cookie, as a lobby screen gets it), one 1920x1080 tab left on the wall.

Every minute, through the page's CDP session: `HeapProfiler.collectGarbage`, then
`Runtime.getHeapUsage` (used / total JS heap after the forced GC), `Performance.getMetrics` (Nodes,
JSEventListeners, Documents, LayoutObjects) and the slide shown (`.sc-slide:not([hidden])`); plus the
PSS of Chromium's processes, the events XADDed so far and the app's CPU. Growth = (last - minute 5) /
minute 5 of the used heap (target < 10 %); the slope is a least-squares fit over minute 5 to the end.
The table so far is written to bench/out/<--out>.json after every sample, so a cut-short run still
leaves its figures.

    .venv/bin/python bench/bench_wall_heap.py [--minutes 120] [--interval 60] [--sim-rate 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_screen_dom import CHROMIUM_ARGS, cpu_by_kind, descendants  # noqa: E402
from bench.measure import machine, slope_per_minute, write_json  # noqa: E402
from streams.redis_conn import connect  # noqa: E402

PLAYLIST = "leadership"
TARGET_GROWTH_PCT = 10.0
BASE_MINUTE = 5
WAIT_MS = 60_000
METRICS = ("Nodes", "JSEventListeners", "Documents", "LayoutObjects")
SLIDE_JS = """() => {
  const s = document.querySelector('.sc-slide:not([hidden])');
  return s ? s.getAttribute('data-screen') : null;
}"""


def pair_wall(app: Any, page: Any) -> None:
    """Pair the tab with a display token for the playlist, as an operator does for a lobby screen."""
    out = app.cli("token", "display", "--playlist", PLAYLIST, "--label", "bench-heap")
    url = re.search(r"(http://\S+/pair/\S+)", out)
    if not url:
        raise RuntimeError(f"`token display` printed no pairing URL: {out[-500:]}")
    page.goto(re.sub(r"^http://[^/]+", app.url, url.group(1)))
    page.wait_for_url(f"{app.url}/wall/{PLAYLIST}?kiosk=1", timeout=WAIT_MS)
    page.locator(".sc-slide").first.wait_for(state="attached", timeout=WAIT_MS)
    page.locator(".sc-banner").wait_for(state="hidden", timeout=WAIT_MS)


def chromium_pss_mb() -> float:
    """Chromium's memory as its processes' PSS sum (RSS would count the shared pages once per process)."""
    import psutil

    total = 0
    for pid in descendants():
        try:
            p = psutil.Process(pid)
            if "chrom" in p.name() or "headless_shell" in p.name():
                total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 2**20


def events_added(r: Any) -> int:
    """Events XADDed since the start over every ev:* stream (trimming does not lower it)."""
    return sum(int(r.xinfo_stream(k)["entries-added"]) for k in r.scan_iter(match="ev:*", _type="stream"))


def sample(cdp: Any, page: Any, r: Any, t0: float) -> dict[str, Any]:
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"minute": round((time.time() - t0) / 60, 2), "heap_used_mb": round(heap["usedSize"] / 2**20, 3),
            "heap_total_mb": round(heap["totalSize"] / 2**20, 3),
            "used_js_heap_mb": round(page.evaluate("() => performance.memory.usedJSHeapSize") / 2**20, 3),
            **{m: int(metrics.get(m, 0)) for m in METRICS}, "slide": page.evaluate(SLIDE_JS),
            "chromium_pss_mb": round(chromium_pss_mb(), 1), "events": events_added(r)}


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth and slope of the used heap (and the DOM) from minute 5 to the last sample."""
    after = [s for s in samples if s["minute"] >= BASE_MINUTE - 0.5]
    if len(after) < 2:
        return {"samples": len(samples), "note": f"not past minute {BASE_MINUTE} yet"}
    base, last = after[0], after[-1]
    first_same = next(s for s in after if s["slide"] == last["slide"])  # slides differ in DOM and heap

    def growth(key: str, b: dict[str, Any] = base) -> float:
        return round(100 * (last[key] - b[key]) / b[key], 2) if b[key] else 0.0

    return {"samples": len(samples), "from_minute": base["minute"], "to_minute": last["minute"],
            "heap_used_mb": [base["heap_used_mb"], last["heap_used_mb"]], "growth_pct": growth("heap_used_mb"),
            "slope_mb_per_min": round(slope_per_minute([(60 * s["minute"], s["heap_used_mb"]) for s in after]), 4),
            "heap_min_max_mb": [min(s["heap_used_mb"] for s in after), max(s["heap_used_mb"] for s in after)],
            "nodes": [base["Nodes"], last["Nodes"]], "nodes_growth_pct": growth("Nodes"),
            "listeners": [base["JSEventListeners"], last["JSEventListeners"]],
            "chromium_pss_mb": [base["chromium_pss_mb"], last["chromium_pss_mb"]],
            "same_slide": {"slide": last["slide"], "from_minute": first_same["minute"],
                           "growth_pct": growth("heap_used_mb", first_same),
                           "nodes_growth_pct": growth("Nodes", first_same)},
            "met": growth("heap_used_mb") < TARGET_GROWTH_PCT}


def _line(cells: list[Any]) -> str:
    return "  ".join(f"{c:>9.2f}" if isinstance(c, float) else f"{c!s:>9}" for c in cells)


def run(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    from tests.realapp import RealApp

    samples: list[dict[str, Any]] = []
    errors: list[str] = []
    started = dt.datetime.now().astimezone().isoformat(timespec="seconds")

    def save(state: str, extra: dict[str, Any] | None = None) -> Path:
        return write_json(args.out, {
            "bench": "wall_heap", "machine": machine(), "args": vars(args), "state": state, "started": started,
            "page": f"/wall/{PLAYLIST}?kiosk=1", "target_growth_pct": TARGET_GROWTH_PCT,
            "summary": summary(samples), "console_errors": errors[:50], "samples": samples, **(extra or {}),
            "written": dt.datetime.now().astimezone().isoformat(timespec="seconds")})

    with tempfile.TemporaryDirectory(prefix="bench-wall-heap-") as tmp, sync_playwright() as pw:
        app = RealApp(Path(tmp))
        # a copy of the screens: an edit in the working tree must not hot-reload the wall during the run
        shutil.copytree(ROOT / "screens", Path(tmp) / "screens")
        app.env.update({"SIMULATORS": "1", "SIM_RATE": str(args.sim_rate), "SCREENS_DIR": str(Path(tmp) / "screens")})
        browser = None
        try:
            app.start()
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and len(errors) < 200 else None)
            pair_wall(app, page)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            r = connect(f"unix://{app.data / 'redis' / 'redis.sock'}")
            procs = descendants()
            t0 = time.time()
            cpu0 = cpu_by_kind(procs)
            print(f"wall /wall/{PLAYLIST}?kiosk=1 open; sampling every {args.interval:g} s for {args.minutes:g} min; "
                  f"partial results in bench/out/{args.out}.json", flush=True)
            cols = [("minute", "min"), ("heap_used_mb", "heap MB"), ("heap_total_mb", "total MB"),
                    ("used_js_heap_mb", "perf.memory MB"), ("Nodes", "nodes"), ("JSEventListeners", "listeners"),
                    ("LayoutObjects", "layout"), ("chromium_pss_mb", "chromium PSS MB"), ("events", "events"),
                    ("slide", "slide")]
            print(_line([h for _, h in cols]), flush=True)
            n = 0
            while True:
                samples.append(sample(cdp, page, r, t0))
                print(_line([samples[-1][k] for k, _ in cols]), flush=True)
                save("running")
                n += 1
                if n * args.interval > args.minutes * 60:
                    break
                page.wait_for_timeout(max(0.0, t0 + n * args.interval - time.time()) * 1000)
            cpu1, elapsed = cpu_by_kind(procs), time.time() - t0
            cpu = {k: round(100 * (v - cpu0.get(k, 0.0)) / elapsed, 1) for k, v in cpu1.items()}
            loadavg = [round(x, 2) for x in os.getloadavg()]
        finally:
            if browser is not None:
                browser.close()
            app.kill()
            app.stop_redis()
    s = summary(samples)
    path = save("finished", {"cpu_pct": cpu, "loadavg_end": loadavg})
    print()
    if "growth_pct" in s:
        print(f"JS heap used after GC, minute {s['from_minute']:g} -> {s['to_minute']:g}: "
              f"{s['heap_used_mb'][0]:.2f} -> {s['heap_used_mb'][1]:.2f} MB, growth {s['growth_pct']:+.1f} % "
              f"(target < {TARGET_GROWTH_PCT:g} %: {'met' if s['met'] else 'NOT met'}); slope "
              f"{1024 * s['slope_mb_per_min']:+.1f} KB/min; range {s['heap_min_max_mb'][0]:.2f}-"
              f"{s['heap_min_max_mb'][1]:.2f} MB")
        same = s["same_slide"]
        print(f"same slide ({same['slide']}), minute {same['from_minute']:g} -> {s['to_minute']:g}: heap "
              f"{same['growth_pct']:+.1f} %, DOM nodes {same['nodes_growth_pct']:+.1f} %")
        print(f"DOM nodes {s['nodes'][0]} -> {s['nodes'][1]} ({s['nodes_growth_pct']:+.1f} %), listeners "
              f"{s['listeners'][0]} -> {s['listeners'][1]}, Chromium PSS {s['chromium_pss_mb'][0]:.0f} -> "
              f"{s['chromium_pss_mb'][1]:.0f} MB")
    else:
        print(s["note"])
    print(f"CPU % over the run: {' '.join(f'{k} {v:.0f}' for k, v in cpu.items())}; console errors: {len(errors)}")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the run (default 120)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples (default 60)")
    parser.add_argument("--sim-rate", type=float, default=1.0, help="SIM_RATE of the built-in simulators (default 1)")
    parser.add_argument("--out", default="wall_heap")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
