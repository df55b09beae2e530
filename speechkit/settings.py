"""One frozen settings object: packaged defaults, then DIR/speechkit.cfg, then CLI overrides."""

from __future__ import annotations

import configparser
import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError

SECTION = "speechkit"


def _packaged() -> dict[str, str]:
    """The packaged defaults (speechkit/defaults.cfg): the one place a default value is written."""
    parser = configparser.ConfigParser()
    parser.read_string(resources.files("speechkit").joinpath("defaults.cfg").read_text("utf-8"))
    return dict(parser.items(SECTION))


_D = _packaged()


def default_home() -> Path:
    """$SPEECHKIT_HOME, else the current directory."""
    return Path(os.environ.get("SPEECHKIT_HOME") or Path.cwd())


@dataclass(frozen=True)
class Settings:
    """Every tunable of a speechkit workspace; the defaults are speechkit/defaults.cfg's.

    >>> s = Settings(home=Path("/tmp/x"))
    >>> s.store_path.name, s.max_file_mb
    ('speechkit.db', 200)
    """

    home: Path = field(default_factory=default_home)
    store: str = _D["store"]
    search: str = _D["search"]
    lexicon: str = _D["lexicon"]
    workers: int = int(_D["workers"])
    engine: str = _D["engine"]
    scheduler: str = _D["scheduler"]
    scheduler_timeout: int = int(_D["scheduler_timeout"])
    chunk_size: int = int(_D["chunk_size"])
    minhash_perm: int = int(_D["minhash_perm"])
    shingle_size: int = int(_D["shingle_size"])
    lsh_threshold: float = float(_D["lsh_threshold"])
    containment: float = float(_D["containment"])
    min_dedup_chars: int = int(_D["min_dedup_chars"])
    index_memory_mb: int = int(_D["index_memory_mb"])
    index_window: int = int(_D["index_window"])
    index_batch: int = int(_D["index_batch"])
    index_batch_chars: int = int(_D["index_batch_chars"])
    max_file_mb: int = int(_D["max_file_mb"])
    max_text_mb: int = int(_D["max_text_mb"])
    max_file_seconds: int = int(_D["max_file_seconds"])
    topics_n_init: int = int(_D["topics_n_init"])
    cluster_n_init: int = int(_D["cluster_n_init"])

    @property
    def store_path(self) -> Path:
        """The SQLite store file (when `store` is not a PostgreSQL URL)."""
        return self.home / "corpus" / "speechkit.db"

    @property
    def store_url(self) -> str | None:
        """The PostgreSQL store's URL, or None for the SQLite file."""
        return self.store if self.store.startswith(("postgresql://", "postgres://")) else None

    @property
    def store_label(self) -> str:
        """Where the store is, for messages (a URL without its user and password)."""
        if self.store_url:
            return "postgresql://" + self.store_url.split("@")[-1].split("://")[-1]
        return str(self.store_path)

    @property
    def lexicon_path(self) -> Path | None:
        """The user lexicon's file (relative paths from the workspace folder), or None."""
        if not self.lexicon:
            return None
        path = Path(self.lexicon).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def index_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def uses_dask(self) -> bool:
        """Whether ingest and the index build run on Dask: `engine = dask`, or a scheduler's address."""
        return self.engine == "dask" or bool(self.scheduler)

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)


def _coerce(name: str, raw: str) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
    except ValueError as exc:
        raise InputError(f"setting {name}={raw!r} is not a number; fix it in speechkit.cfg") from exc
    return raw


def _read_cfg(text: str, source: str) -> dict[str, Any]:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise InputError(f"{source} is not a valid config file: {exc}".splitlines()[0]) from exc
    if not parser.has_section(SECTION):
        return {}
    known = {f.name for f in dataclasses.fields(Settings)} - {"home"}
    out = {}
    for key, value in parser.items(SECTION):
        if key not in known:
            raise InputError(f"{source}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
        out[key] = _coerce(key, value)
    return out


def load_settings(home: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build the settings once: packaged defaults < DIR/speechkit.cfg < the environment
    (SPEECHKIT_STORE, SPEECHKIT_SCHEDULER, SPEECHKIT_LEXICON) < explicit overrides."""
    home_path = Path(home or default_home()).resolve()
    values: dict[str, Any] = {}  # the packaged defaults are the dataclass's
    user_cfg = home_path / "speechkit.cfg"
    if user_cfg.is_file():
        try:
            cfg_text = user_cfg.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{user_cfg} is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
        values.update(_read_cfg(cfg_text, str(user_cfg)))
    if os.environ.get("SPEECHKIT_STORE"):
        values["store"] = os.environ["SPEECHKIT_STORE"]
    if os.environ.get("SPEECHKIT_SCHEDULER"):
        values["scheduler"] = os.environ["SPEECHKIT_SCHEDULER"]
    if os.environ.get("SPEECHKIT_LEXICON"):
        # a path given in the environment or on the command line is the user's, from where they are
        values["lexicon"] = str(Path(os.environ["SPEECHKIT_LEXICON"]).expanduser().resolve())
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(home=home_path, **values)
