"""What the browser may see of the server's configuration: no credentials, no paths.

The server extension sends backend facts (``/status``) and error messages to the browser.
Those hold the backend URL (which may carry ``user:password@``) and, for the embedded
model, file paths. The browser needs neither: a page script in the Jupyter origin, or a
screenshot of the status bar, must not learn a backend password or the layout of the
disk. Server logs keep the full text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# scheme://[userinfo@]rest, up to whitespace or a quote
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")
# an absolute path of two parts or more (POSIX, ~/..., or Windows); one part ("/models",
# an API route) is left alone. The lookbehind keeps it from starting inside a word.
_PATH = re.compile(
    r"(?<![\w.:/\\~-])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"<>:,;()\[\]]+){2,}[/\\]?"
)


def strip_credentials(url: str) -> str:
    """``url`` without ``user:password@`` (and without a query, which may hold a key)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@\s]*@", "//", url)
    if parts.username is None and parts.password is None and not parts.query:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", parts.fragment))


def _basename(path: str) -> str:
    parts = [p for p in re.split(r"[/\\]", path) if p]
    return parts[-1] if parts else path


def redact(text: Any) -> Any:
    """Text fit for the browser: URLs without credentials, paths on disk as base names."""
    if not isinstance(text, str) or not text:
        return text
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(_PATH.sub(lambda m: _basename(m.group(0)), text[last:match.start()]))
        url = match.group(0)
        # punctuation after a URL ends the sentence, not the URL ("at http://h:1: is it up?")
        trail = re.search(r"[.,;:!?)\]]+$", url)
        tail = trail.group(0) if trail else ""
        url = url[: len(url) - len(tail)]
        if url.lower().startswith("file:"):
            out.append(_basename(url))
        else:
            out.append(strip_credentials(url))
        out.append(tail)
        last = match.end()
    out.append(_PATH.sub(lambda m: _basename(m.group(0)), text[last:]))
    return "".join(out)


def redact_status(data: dict[str, Any]) -> dict[str, Any]:
    """A status dict for the browser: every string value redacted, nested ones too."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return {k: clean(v) for k, v in data.items()}
