"""The package's layers (docs/development.md): the import-linter contract in
setup.cfg is kept (no module imports a higher layer, no import cycle between the modules of
one package), and every module is named in it, so a new module has to be given a layer."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "speechkit"


def _layers() -> list[set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = [x.strip() for x in cfg["importlinter:contract:layers"]["layers"].splitlines() if x.strip()]
    return [{m.strip() for m in line.replace("|", ":").split(":")} for line in lines]


def test_every_module_has_a_layer():
    named = set().union(*_layers())
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue  # the package itself: the container of the layers
        assert parts[0] in named, f"speechkit/{'/'.join(parts)}.py has no layer in setup.cfg's [importlinter]"


def test_the_layer_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("import-linter is not installed; `bash .ci/install` installs the test extras")
    done = subprocess.run([str(lint), str(ROOT / "setup.cfg"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


def test_a_search_loads_no_cleaner():
    """`speechkit search` starts in a quarter second because the store, the searcher and the
    CLI import no cleaning step (0.1 s of patterns); the cleaner still loads when asked for."""
    probe = ("import sys, speechkit.cli, speechkit.search, speechkit.store\n"
             "print(sorted(m for m in sys.modules if m in ('speechkit.clean.cleaner', 'speechkit.clean.resources')))\n"
             "from speechkit.clean import clean_text, STEPS, repair_encoding\n"
             "print(callable(clean_text), len(STEPS) > 10, 'speechkit.clean.cleaner' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == ["[]", "True True True"]
