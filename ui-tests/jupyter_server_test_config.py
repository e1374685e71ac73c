"""Jupyter server for the Galata tests: JupyterLab + jupyter_twin on the embedded demo model.

Started by Playwright's webServer (playwright.config.js); never start it by hand in CI.
"""

import os

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

# the kernels (magics) run the same embedded model
os.environ["JUPYTER_TWIN_BACKEND"] = "embedded"
os.environ["JUPYTER_TWIN_MODEL_PATH"] = str(demo_model_path())
os.environ["JUPYTER_TWIN_MAX_TOKENS_CHAT"] = "160"
os.environ["JUPYTER_TWIN_NUM_CTX"] = "2048"

c.TwinApp.backend = "embedded"  # noqa: F821
c.TwinApp.model_path = str(demo_model_path())  # noqa: F821
c.TwinApp.max_tokens_complete = 32  # noqa: F821
c.TwinApp.max_tokens_chat = 160  # noqa: F821
c.TwinApp.num_ctx = 2048  # noqa: F821
c.TwinApp.context_tokens = 1024  # noqa: F821
c.TwinApp.preload = True  # noqa: F821
