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
