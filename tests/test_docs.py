"""The CLI is the user's manual: every command has help and appears in the README, and the
README opens with the two commands."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from speechkit.cli import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_has_help_and_is_documented(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert len(cli.commands[name].help or "") > 20
    assert f"speechkit {name}" in README


def test_readme_starts_with_the_two_commands():
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands[0].startswith("bash .ci/install && .venv/bin/speechkit ingest corpus/raw")
    assert commands[1] == "bash .ci/install && .venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert commands[1] in ci


def test_sample_corpus_is_the_five_seeds_verbatim(corpus):
    shipped = sorted(p.name for p in (ROOT / "corpus" / "raw").iterdir())
    assert shipped == sorted(p.name for p in (corpus / "seeds").iterdir())
    for name in shipped:
        assert (ROOT / "corpus" / "raw" / name).read_bytes() == (corpus / "seeds" / name).read_bytes()


def test_packaged_defaults_and_the_settings_class_agree(tmp_path):
    """Settings() (used directly by library callers) and defaults.cfg (read by load_settings)
    both state the defaults; they must not drift apart."""
    from dataclasses import asdict

    from speechkit.settings import Settings, load_settings

    loaded = asdict(load_settings(tmp_path))
    direct = asdict(Settings(home=tmp_path.resolve()))
    assert loaded == direct
