"""Which store a workspace uses: the SQLite file, or PostgreSQL for a postgresql:// URL."""

from __future__ import annotations

from .errors import StoreError
from .settings import Settings
from .store import DocumentStore, Store


def open_store(settings: Settings, *, create: bool = True) -> DocumentStore:
    """The workspace's store: PostgreSQL when `settings.store` is a postgresql:// URL, else
    the SQLite file in DIR/corpus/."""
    if settings.store_url:
        from .pgstore import PgStore

        return PgStore(settings.store_url, create=create)
    if settings.store:
        raise StoreError(f"store {settings.store!r} is not a postgresql:// URL; leave it empty for the SQLite file")
    return Store(settings.store_path, create=create)
