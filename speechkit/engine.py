"""Where the heavy steps run: a local process pool (the default) or a Dask cluster.

Both are handed out as a `concurrent.futures.Executor`, so ingest and the index build submit
their batches the same way to either: decoding, cleaning, splitting, metadata and
segmentation run on the workers, and the results are written to the store by the process that
asked (one transaction per file, as always). With `engine = dask`, `scheduler =
tcp://HOST:8786` uses a running cluster (its workers must have speechkit installed and, when
they are on other machines, the store must be PostgreSQL); an empty scheduler starts a local
cluster of `workers` processes for the run. Dask is imported only here and only then.

A Dask worker that dies mid-batch loses nothing: the scheduler runs its tasks again on another
worker, and a task that kills every worker it runs on ends as an error that ingest reports
against its file (and retries on the next run).
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any

from .errors import InputError
from .pool import stop_pool, worker_pool
from .settings import Settings

log = logging.getLogger(__name__)

ENGINES = ("local", "dask")


@contextlib.contextmanager
def executor(settings: Settings) -> Iterator[Executor]:
    """An executor for `settings.engine`; an error or interrupt inside stops it without waiting
    for its running tasks."""
    if settings.uses_dask:
        with _dask(settings) as ex:
            yield ex
        return
    if settings.engine != "local":
        raise InputError(f"unknown engine {settings.engine!r}; use one of: {', '.join(ENGINES)}")
    pool = worker_pool(settings.worker_count)
    try:
        yield pool
    except BaseException:
        stop_pool(pool)  # an interrupt or an error: end the workers, never wait on them
        raise
    pool.shutdown()


def bounded_map(pool: Executor, fn: Callable[..., Any], items: Iterable[Any], *args: Any,
                ahead: int = 4) -> Iterator[Any]:
    """`fn(item, *args)` for each item on `pool`, in order, with at most `ahead` submitted and
    not yet taken: `Executor.map` submits every item at once, which holds all their inputs
    (the texts of a whole corpus) in memory."""
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item, *args))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@contextlib.contextmanager
def _dask(settings: Settings) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("the dask engine needs Dask: pip install 'speechkit[dask]'") from None
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO is per worker and comm
    cluster = None
    try:
        if settings.scheduler:
            client = Client(settings.scheduler, timeout=settings.scheduler_timeout, set_as_default=False)
        else:
            # one thread per worker process: cleaning and jieba are pure Python (the GIL)
            cluster = LocalCluster(n_workers=settings.worker_count, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=":0")  # any free port
            client = Client(cluster, set_as_default=False)
    except OSError as exc:  # a timeout or a refused connection
        if cluster is not None:
            cluster.close()
        raise InputError(f"cannot reach the Dask scheduler at {settings.scheduler} ({exc}); start one "
                         "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or leave "
                         "--scheduler out for a local cluster") from None
    workers = len(client.scheduler_info().get("workers", {}))
    log.info("dask: %d workers at %s%s", workers, client.scheduler.address,
             f", dashboard {client.dashboard_link}" if _has_dashboard(client) else "")
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _has_dashboard(client: object) -> bool:
    try:
        return bool(client.scheduler_info().get("services", {}).get("dashboard"))  # type: ignore[attr-defined]
    except Exception:  # an older scheduler without the services entry
        return False
