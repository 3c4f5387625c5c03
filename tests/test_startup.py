"""The start-up pause of the garbage collector (attendant.startup), each case in its own interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(code: str, tmp_path: Path) -> str:
    env = {"PYTHONPATH": str(REPO), "ATTENDANT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                          check=True)
    return done.stdout.strip()


def test_opening_the_services_ends_the_pause_and_freezes_the_libraries(tmp_path):
    out = _run(
        "import gc\n"
        "from attendant import startup\n"
        "startup.pause()\n"
        "print(gc.isenabled(), startup.paused())\n"
        "from attendant.booth.wiring import open_views\n"
        "from attendant.demo import ensure_demo_db\n"
        f"engine = ensure_demo_db('sqlite:///{tmp_path / 'a.db'}', actor='setup')\n"
        "views = open_views(engine)\n"
        "print(gc.isenabled(), startup.paused(), gc.get_freeze_count() > 10000, len(views.availability()) > 0)\n",
        tmp_path)
    assert out.splitlines() == ["False True", "True False True True"]


def test_a_command_that_never_opens_the_services_gets_the_collector_back(tmp_path):
    out = _run(
        "import gc, time\n"
        "from attendant import startup\n"
        "startup.PAUSE_LIMIT_S = 0.2\n"
        "startup.pause()\n"
        "time.sleep(1.0)\n"
        "print(gc.isenabled(), startup.paused())\n",
        tmp_path)
    assert out == "True False"


def test_without_a_pause_resume_leaves_the_collector_alone(tmp_path):
    out = _run(
        "import gc\n"
        "from attendant import startup\n"
        "gc.disable()\n"
        "startup.pause(); startup.resume()\n"
        "print(gc.isenabled(), gc.get_freeze_count())\n",
        tmp_path)
    assert out == "False 0"


def test_the_console_paints_before_the_database_layer_is_imported(tmp_path):
    # What `attendant` and `attendant demo` import before the console's first paint (issue 12 item 10): the CLI,
    # the app and its loading screen. The database layer, the services and the main screen's widgets load in the
    # opening thread after that paint; an import at the top of one of these modules would bring them back here.
    out = _run(
        "import sys\n"
        "import attendant.cli, attendant.cli.common, attendant.cli.lanes\n"
        "from attendant.tui.app import deferred_app\n"
        "app = deferred_app(lambda: None, title='CHS')\n"
        "screen = app.get_default_screen()\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'pydantic', 'db.models', 'attendant.core.services',\n"
        "         'attendant.tui.screens.main', 'hardware.config')\n"
        "print(type(screen).__name__, [m for m in heavy if m in sys.modules])\n",
        tmp_path)
    assert out == "LoadingScreen []"


def test_renew_starts_a_new_pause_only_within_one(tmp_path):
    out = _run(
        "import gc, time\n"
        "from attendant import startup\n"
        "startup.renew()\n"
        "print(gc.isenabled(), startup.paused(), gc.get_freeze_count())\n"
        "startup.PAUSE_LIMIT_S = 0.6\n"
        "startup.pause()\n"
        "time.sleep(0.4)\n"
        "startup.renew()\n"
        "time.sleep(0.4)\n"  # 0.8 s after the first pause: past its bound, within the renewed one
        "print(gc.isenabled(), startup.paused(), gc.get_freeze_count() > 0)\n"
        "time.sleep(0.5)\n"
        "print(gc.isenabled(), startup.paused())\n",
        tmp_path)
    assert out.splitlines() == ["True False 0", "False True True", "True False"]
