"""Shared data for the server-extension tests."""

from __future__ import annotations

import json
from typing import Any

MAX_TOKENS_CHAT = 200
MAX_TOKENS_COMPLETE = 48


def ndjson(chunks: list[bytes]) -> list[dict[str, Any]]:
    text = b"".join(chunks).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


CELLS = [
    {"cell_type": "markdown", "source": "# Primes\nSmall helpers for prime numbers."},
    {"cell_type": "code", "source": "import math\n"},
    {
        "cell_type": "code",
        "source": "def is_prime(n):\n    \"\"\"Return True if n is a prime number.\"\"\"\n    ",
    },
    {"cell_type": "code", "source": "print([p for p in range(30) if is_prime(p)])\n"},
]


def on_server_loop(fn: Any) -> Any:
    """Run an async test on pytest-jupyter's loop (where the Jupyter server lives).

    The project runs pytest-asyncio in auto mode, which would run a coroutine test on a
    loop of its own, where the server never answers; so the tests are sync wrappers.
    """
    import functools
    import inspect

    sig = inspect.signature(fn)
    own = "jp_asyncio_loop" in sig.parameters
    params = list(sig.parameters.values())
    if not own:
        params.append(inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        loop = kwargs["jp_asyncio_loop"] if own else kwargs.pop("jp_asyncio_loop")
        return loop.run_until_complete(fn(*args, **kwargs))

    del wrapper.__wrapped__
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper
