"""Worker processes that an interrupt cannot leave behind.

Ctrl-C in a terminal sends SIGINT to the whole process group; a signal sent to the main
process alone (kill -INT PID) reaches only it. Workers ignore SIGINT, so only the main process
decides what an interrupt means: it stops the pool, terminating the workers, and reports. Left
to itself, the pool's shutdown waited on workers that had died of the same interrupt (a hang
in about half the runs), and a second interrupt left them orphaned.
"""

from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now, without waiting for their tasks."""
    # ProcessPoolExecutor has no public way to end its workers before Python 3.14
    # (terminate_workers); the mapping of pid -> Process is stable across 3.8-3.13
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=5)
