"""Jupyter server for the Galata tests: JupyterLab + jupyter_twin on the embedded demo model.

Started by Playwright's webServer (playwright.config.js); never start it by hand in CI.
"""

import os
import shutil
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

from jupyter_twin.modelfiles import demo_model_path

configure_jupyter_server(c)  # noqa: F821

PORT = int(os.environ.get("TWIN_UI_PORT", "18765"))

c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = PORT  # noqa: F821
c.ServerApp.allow_root = True  # CI runs as root  # noqa: F821
c.ServerApp.jpserver_extensions = {"jupyter_twin": True}  # noqa: F821
c.ServerApp.root_dir = os.environ.get(  # noqa: F821
    "JUPYTERLAB_GALATA_ROOT_DIR", c.ServerApp.root_dir  # noqa: F821
)

DEMO_PATH = demo_model_path()  # joined in the user's cache, before the cache moves below

# The model picker's spec (model_picker.spec.ts) needs a second model name: the server's
# embedded backend lists the GGUF files in its model cache. A cache of this server's own
# (symlinks to the demo file: one model process, no second copy) keeps the user's cache
# untouched; the demo model's path stays configured explicitly.
# One folder per port, made afresh at each start (Playwright kills the server: no exit
# hook runs), so runs leave one small folder of symlinks behind, not one each.
UI_CACHE = Path(tempfile.gettempdir()) / f"jupyter-twin-ui-cache-{PORT}"
shutil.rmtree(UI_CACHE, ignore_errors=True)
UI_CACHE.mkdir()
(UI_CACHE / DEMO_PATH.name).symlink_to(DEMO_PATH)
(UI_CACHE / "jupyter-twin-ui-alias.gguf").symlink_to(DEMO_PATH)
os.environ["JUPYTER_TWIN_CACHE"] = str(UI_CACHE)

# the kernels (magics) run the same embedded model
os.environ["JUPYTER_TWIN_BACKEND"] = "embedded"
os.environ["JUPYTER_TWIN_MODEL_PATH"] = str(DEMO_PATH)
os.environ["JUPYTER_TWIN_MAX_TOKENS_CHAT"] = "160"
os.environ["JUPYTER_TWIN_NUM_CTX"] = "2048"

c.TwinApp.backend = "embedded"  # noqa: F821
c.TwinApp.model_path = str(DEMO_PATH)  # noqa: F821
c.TwinApp.max_tokens_complete = 32  # noqa: F821
c.TwinApp.max_tokens_chat = 160  # noqa: F821
c.TwinApp.num_ctx = 2048  # noqa: F821
c.TwinApp.context_tokens = 1024  # noqa: F821
c.TwinApp.preload = True  # noqa: F821
