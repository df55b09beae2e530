"""Shared fixtures. The real corpus lives beside the project in ../shared/corpus."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SPEECHKIT_SHARED_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
CASES = Path(__file__).resolve().parent / "cases"
NATIONAL = "gov-reports/政府工作报告-国务院"


def indexed_workspace(tmp_path_factory: pytest.TempPathFactory, name: str, *inputs: Path) -> Path:
    """A new workspace with `inputs` ingested and indexed."""
    from speechkit.index.build import build_index
    from speechkit.ingest import ingest
    from speechkit.workspace import Workspace

    home = tmp_path_factory.mktemp(name)
    with Workspace(home) as ws:
        ingest([str(p) for p in inputs], ws)
        build_index(ws)
    return home


def run_cli(home: Path, *args: str, code: int = 0, stdout: bool = False) -> str:
    """Run `speechkit --home HOME ARGS…` in-process; assert the exit code; return the output
    (with `stdout`, only what it wrote to stdout: what a pipe gets, without the messages)."""
    from click.testing import CliRunner

    from speechkit.cli import cli

    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout if stdout else result.output


@pytest.fixture
def workspace() -> Iterator[Callable[..., Any]]:
    """Opens workspaces (`workspace(home, **settings)` or `workspace(settings)`) that are closed
    when the test ends: the one object every stage takes."""
    from speechkit.workspace import Workspace

    opened: list[Workspace] = []

    def open_workspace(home: Any, **overrides: Any) -> Workspace:
        opened.append(Workspace(home, **overrides))
        return opened[-1]

    yield open_workspace
    for ws in opened:
        ws.close()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.fail(f"the shared corpus is missing at {SHARED}: clone the project beside ../shared "
                    "or set SPEECHKIT_SHARED_CORPUS")
    return SHARED


@pytest.fixture(scope="session")
def seeds_home(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A workspace with the five seeds ingested once for the session."""
    from speechkit.ingest import ingest
    from speechkit.workspace import Workspace

    home = tmp_path_factory.mktemp("seeds")
    with Workspace(home, workers=1) as ws:
        report = ingest([str(corpus / "seeds")], ws)
    assert report.ok, report.skipped
    return home


@pytest.fixture(scope="session")
def pg_server() -> str:
    """A throwaway PostgreSQL cluster on a free loopback port, started for the session and
    stopped by its pid (tests/servers.py); its base URL (append a database name). Skipped,
    with the reason, when PostgreSQL's server programs are not installed."""
    from .servers import Unavailable, postgres_cluster

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_cluster())
        except Unavailable as exc:
            pytest.skip(str(exc))
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    import uuid

    from .servers import new_database

    return new_database(pg_server, "t" + uuid.uuid4().hex[:12])


CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (Playwright's own browser download is not
    available offline); skipped, with the fix, where either is missing."""
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed; `bash .ci/install`")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed; `bash .ci/install` installs Debian's chromium")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    """A screenshot of the page as a person sees it, under indexes/artifacts/ (or $SPEECHKIT_ARTIFACTS)."""
    out = Path(os.environ.get("SPEECHKIT_ARTIFACTS", ROOT / "indexes" / "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=False)
