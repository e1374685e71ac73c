"""CI check: start a Jupyter server with jupyter_twin while refusing unauthenticated access,
and fail on any JupyterServerAuthWarning (an endpoint verb without @tornado.web.authenticated).

Run directly (``python tests/server/check_auth.py``) or through test_auth_check.py.
"""

from __future__ import annotations

import sys
import tempfile
import warnings


def _isolate(tmp: str) -> None:
    """Only jupyter_twin: no server extensions enabled by installed config files."""
    import os

    import jupyter_core.paths

    os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(tmp, "config")
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(tmp, "runtime")
    os.environ["JUPYTER_DATA_DIR"] = os.path.join(tmp, "data")
    os.environ.pop("JUPYTER_CONFIG_PATH", None)
    jupyter_core.paths.SYSTEM_CONFIG_PATH = []
    jupyter_core.paths.ENV_CONFIG_PATH = []


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="twin-auth-")
    _isolate(tmp)
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.utils import JupyterServerAuthWarning

    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = ServerApp(
            jpserver_extensions={"jupyter_twin": True},
            allow_unauthenticated_access=False,
            open_browser=False,
            root_dir=root,
            port=0,
            ip="127.0.0.1",
        )
        app.config.IdentityProvider.token = "ci-auth-check"
        app.config.TwinApp.preload = False
        app.initialize(argv=[], new_httpserver=False)
        twin_routes = _twin_routes(app)
        auth = [w for w in caught if issubclass(w.category, JupyterServerAuthWarning)]
        others = sorted(n for n in app.extension_manager.extensions if n != "jupyter_twin")
        loaded = app.extension_manager.extensions.get("jupyter_twin")
        ok = loaded is not None and loaded.enabled and all(p.linked for p in loaded.extension_points.values())
    for w in auth:
        print(f"JupyterServerAuthWarning: {w.message}", file=sys.stderr)
    if not ok:
        print("the jupyter_twin server extension did not load", file=sys.stderr)
        return 2
    if len(twin_routes) < 5:
        print(f"jupyter_twin routes missing: {twin_routes}", file=sys.stderr)
        return 2
    if others:
        print(f"other server extensions were loaded too: {others}", file=sys.stderr)
        return 2
    if auth:
        return 1
    print(f"auth check: {len(twin_routes)} jupyter_twin routes, no JupyterServerAuthWarning")
    return 0


def _twin_routes(app) -> list[str]:
    patterns = []
    stack = [app.web_app.default_router, app.web_app.wildcard_router]
    while stack:
        router = stack.pop()
        for rule in getattr(router, "rules", []):
            target = rule.target
            if hasattr(target, "rules"):
                stack.append(target)
                continue
            regex = getattr(rule.matcher, "regex", None)
            if regex is not None and "jupyter-twin" in regex.pattern:
                patterns.append(regex.pattern)
    return patterns


if __name__ == "__main__":
    sys.exit(main())
