"""What the browser may see of the server's configuration: no credentials, no paths.

The server extension sends backend facts (``/status``) and error messages to the browser.
Those hold the backend URL (which may carry ``user:password@``) and, for the embedded
model, file paths. The browser needs neither: a page script in the Jupyter origin, or a
screenshot of the status bar, must not learn a backend password or the layout of the
disk. Server logs keep the full text.
"""

from __future__ import annotations

import re
from typing import Any, Iterator
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


_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
_URL_END = frozenset(" \t\n\r\f\v'\"<>")


def _url_spans(text: str) -> Iterator[tuple[int, int]]:
    """The spans ``_URL.finditer`` finds, in linear time: the regex restarts at every word
    boundary of a long run of scheme characters that does not end in "://" and scans the
    run again each time (quadratic on "a.a.a.a...", and error texts can hold anything)."""
    pos = 0
    while True:
        sep = text.find("://", pos)
        if sep < 0:
            return
        begin = sep
        while begin > pos and text[begin - 1] in _SCHEME_CHARS:
            begin -= 1
        start = None
        for p in range(begin, sep):  # the first letter at a word boundary (\b[A-Za-z])
            if text[p].isascii() and text[p].isalpha() and (p == 0 or not _is_word(text[p - 1])):
                start = p
                break
        if start is None:
            pos = sep + 1
            continue
        end = sep + 3
        while end < len(text) and not (text[end] in _URL_END or text[end].isspace()):
            end += 1
        yield start, end
        pos = end


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def redact(text: Any) -> Any:
    """Text fit for the browser: URLs without credentials, paths on disk as base names."""
    if not isinstance(text, str) or not text:
        return text
    out: list[str] = []
    last = 0
    for start, end in _url_spans(text):
        out.append(_PATH.sub(lambda m: _basename(m.group(0)), text[last:start]))
        url = text[start:end]
        # punctuation after a URL ends the sentence, not the URL ("at http://h:1: is it up?")
        bare = url.rstrip(".,;:!?)]")
        tail = url[len(bare):]
        url = bare
        if url.lower().startswith("file:"):
            out.append(_basename(url))
        else:
            out.append(strip_credentials(url))
        out.append(tail)
        last = end
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
