"""Worker processes that an interrupt cannot leave behind.

Ctrl-C in a terminal sends SIGINT to the whole process group; a signal sent to the main
process alone (kill -INT PID) reaches only it. Workers ignore SIGINT, so only the main process
decides what an interrupt means: it stops the pool, terminating the workers, and reports. Left
to itself, the pool's shutdown waited on workers that had died of the same interrupt (a hang
in about half the runs), and a second interrupt left them orphaned.

A main process killed outright (kill -9, the OOM killer) cannot stop anything: each worker
watches its parent and ends itself when it is gone. Orphans lived on forever otherwise, holding
the parent's stdout open, so a pipeline reading `speechkit ingest`'s output hung.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_POLL = 0.5  # seconds between a worker's looks at its parent


def _watch_parent(parent: int) -> None:
    while True:
        # an orphan is adopted by init or a subreaper: its parent pid changes
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(PARENT_POLL)


def _start_worker(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a thread rather than prctl(PR_SET_PDEATHSIG): that fires when the *thread* that forked
    # the worker ends, and the pool may start workers from a thread that ends before the run
    threading.Thread(target=_watch_parent, args=(parent,), name="speechkit-parent-watch", daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(os.getpid(),))


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now, without waiting for their tasks."""
    # ProcessPoolExecutor has no public way to end its workers before Python 3.14
    # (terminate_workers); the mapping of pid -> Process is stable across 3.8-3.13
    processes = list(getattr(pool, "_processes", {}).values())
    call_queue = getattr(pool, "_call_queue", None)
    if call_queue is not None:
        # its feeder thread may be blocked writing a task into the pipe of a worker about to
        # be terminated; joined at exit, it would never return
        call_queue.cancel_join_thread()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=5)
