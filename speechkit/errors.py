"""Errors a user can act on. Each message says what went wrong and what to do next."""

from __future__ import annotations


class SpeechkitError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""

    exit_code = 1


class InputError(SpeechkitError):
    """A path, glob or field mapping given by the user cannot be used."""

    exit_code = 2


class StoreError(SpeechkitError):
    """The corpus store is missing, locked, or from an incompatible version."""


class NotFoundError(SpeechkitError):
    """A document id or named result does not exist."""


class DocumentProblem(Exception):
    """One input file or record could not be used; it is reported and skipped, never fatal."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IndexError_(SpeechkitError):
    """The index is missing, stale, damaged or locked."""
