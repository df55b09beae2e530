"""The CLI and the docs are the user's manual: every command has help and appears in the
README, the README opens with the two commands and links every page of docs/, and every call
the README and docs/ show names a real command with options it takes."""

from __future__ import annotations

import re
from typing import Any

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


DOCS = ROOT / "docs"
PAGES = {p.name: p.read_text("utf-8") for p in sorted(DOCS.glob("*.md"))}
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    assert PAGES, "docs/ holds the reference"
    for name in PAGES:
        assert f"(docs/{name})" in README, f"docs/{name} is not linked from the README"
    for where, folder, text in [("README.md", ROOT, README)] + [(n, DOCS, t) for n, t in PAGES.items()]:
        for target in _LINK.findall(text):
            if target.startswith(("http://", "https://", "#")):
                continue
            assert (folder / target.split("#")[0]).exists(), f"{where} links to {target}, which does not exist"


def _documented_calls(text: str) -> list[str]:
    """Every `speechkit …` call the text shows: lines of its code blocks and inline code spans."""
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    calls = []
    for line in [ln for b in blocks for ln in b.splitlines()] + spans:
        for part in re.split(r"&&|;|\|(?!\|)", line.split("  #")[0].replace("\\|", "/")):
            words = part.split()
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value speechkit …
                words.pop(0)
            if len(words) > 1 and (words[0] == "speechkit" or words[0].endswith("/speechkit")):
                calls.append(" ".join(words))
    return calls


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("page", ["README.md", *PAGES])
def test_every_documented_call_names_a_real_command_and_real_options(page):
    import click

    text = README if page == "README.md" else PAGES[page]
    roots = _options(cli)
    checked = 0
    for call in _documented_calls(text):
        words = [w for w in call.split()[1:] if w not in ("...", "…")]
        # root options (and their values) may come before the command
        while words and words[0].startswith("-") and words[0].split("=")[0] in roots:
            words = words[1 if "=" in words[0] or words[0] in ("-v", "-vv", "--raw-csv", "--excel") else 2:]
        if not words or not re.fullmatch(r"[a-z]+", words[0]):
            continue
        assert words[0] in cli.commands, f"{page}: `{call}` names no command"
        command = cli.commands[words[0]]
        if isinstance(command, click.Group) and len(words) > 1 and words[1] in command.commands:
            command = command.commands[words[1]]
        known = _options(command) | roots | {"--help"}
        # a synopsis writes [--limit N] and --json|--csv (| is / here)
        for word in (w for ws in words[1:] for w in ws.strip("[]").split("/")):
            if word.startswith("--") or re.fullmatch(r"-[a-z]", word):
                option = word.split("=")[0]
                assert option in known, f"{page}: `{call}` uses {option}, which `{words[0]}` does not take"
        checked += 1
    assert checked or "speechkit " not in text


def test_the_main_command_runs_as_written(tmp_path):
    """The README's first command, after its install step, in a fresh copy of the project's
    sample corpus: every step exits 0 and the search and the themes say something."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    first = next(line for line in block.splitlines() if line and not line.startswith("#"))
    steps = [s.strip() for s in first.split("&&")][1:]
    assert steps[0] == ".venv/bin/speechkit ingest corpus/raw" and "topics" in steps[-1]
    shutil.copytree(ROOT / "corpus" / "raw", tmp_path / "corpus" / "raw")
    exe = str(Path(sys.executable).with_name("speechkit"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHKIT_")} | {"COLUMNS": "160"}
    outputs = []
    for step in steps:
        args = step.split()
        done = subprocess.run([exe, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, (step, done.stderr[-2000:])
        outputs.append(done.stdout)
    assert "speeches match" in outputs[2] and "招商引资" in outputs[3] and "share" in outputs[-1]
