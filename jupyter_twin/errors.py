"""Errors raised by the engine. Each carries a one-line message fit to show a user."""

from __future__ import annotations


class TwinError(Exception):
    """Base class: anything the engine raises on purpose."""


class BackendUnavailable(TwinError):
    """The backend could not be reached (refused, DNS, no model file)."""


class BackendTimeout(TwinError):
    """The backend did not answer within the configured time."""


class BackendError(TwinError):
    """The backend answered with an error or with something that is not its protocol."""


class ModelNotFound(BackendError):
    """The backend does not have the requested model."""


class ContextError(TwinError):
    """The cells, index or cursor given to the engine do not make sense."""


class SettingsError(TwinError, ValueError):
    """A setting has a value that cannot work (unknown backend, not a number, ...)."""


class CellTooLarge(ContextError):
    """A chat task's cell cannot fit the model's context; it is refused, never cut."""

    def __init__(self, message: str, *, chars: int, tokens: int, limit: int) -> None:
        super().__init__(message)
        self.chars = chars
        self.tokens = tokens
        self.limit = limit


class ServerBusy(TwinError):
    """The server extension has as much work as it takes; the request was not started."""

    def __init__(self, message: str, *, status: int = 503, retry_after: int = 2) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
