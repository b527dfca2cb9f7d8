"""`app.py run` stopped by SIGTERM (a service manager's stop) takes its workers and embedded Redis with it."""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.realapp import RealApp


def test_sigterm_stops_the_workers_and_the_embedded_redis(tmp_path: Path) -> None:
    app = RealApp(tmp_path)
    app.start()
    assert app.proc is not None
    children = psutil.Process(app.proc.pid).children(recursive=True)
    try:
        redis = psutil.Process(int((tmp_path / "redis" / "redis.pid").read_text()))
        assert any("worker" in " ".join(c.cmdline()) for c in children)
        assert app.terminate() == 0
        _gone, alive = psutil.wait_procs([*children, redis], timeout=20)
        assert alive == []
    finally:  # whatever a failure left running
        app.kill()
        for child in children:
            if child.is_running():
                child.kill()
        app.stop_redis()
