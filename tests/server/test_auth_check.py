"""The CI auth check: a server refusing unauthenticated access loads jupyter_twin with no
JupyterServerAuthWarning; and the check does catch an undecorated handler."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import tornado.web
from jupyter_server.base.handlers import APIHandler

CHECK = Path(__file__).with_name("check_auth.py")
ROOT = Path(__file__).resolve().parents[2]


def test_server_with_jupyter_twin_raises_no_auth_warning() -> None:
    result = subprocess.run(
        [sys.executable, str(CHECK)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no JupyterServerAuthWarning" in result.stdout


class _Undecorated(APIHandler):
    async def get(self) -> None:  # deliberately without @tornado.web.authenticated
        self.finish("{}")


class _Decorated(APIHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.finish("{}")


def test_the_check_catches_an_undecorated_verb(jp_serverapp) -> None:
    from jupyter_server.utils import JupyterServerAuthWarning

    web_app = jp_serverapp.web_app
    web_app.settings["allow_unauthenticated_access"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        web_app.add_handlers(".*$", [("/twin-auth-probe-bad", _Undecorated)])
        web_app.add_handlers(".*$", [("/twin-auth-probe-good", _Decorated)])
    messages = [str(w.message) for w in caught if issubclass(w.category, JupyterServerAuthWarning)]
    assert len(messages) == 1 and "twin-auth-probe-bad" in messages[0]
