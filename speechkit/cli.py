"""The `speechkit` command: parse flags, call one library function, render the result.

Library errors become one-line messages that say what to do next; no tracebacks.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._version import __version__
from .csvsafe import spreadsheet_safe
from .errors import SpeechkitError
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from .workspace import Workspace

err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)

EXPORT_FIELDS = [
    "id", "source_path", "part", "title", "text", "date", "date_source", "year", "year_source",
    "year_min", "year_max", "speaker_role", "speaker_name", "level", "region", "site", "url",
    "encoding", "truncated", "shown_chars", "total_chars", "masked", "flags", "dup_group",
    "canonical",
]


def _fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpeechkitError as exc:
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code
            raise error from exc
        except KeyboardInterrupt:
            err.print("interrupted: everything stored so far is kept; run the same command again to resume")
            _exit_within(5.0, 130)
            sys.exit(130)
    return wrapper


def _exit_within(seconds: float, code: int) -> None:
    """End the process after `seconds` if the normal exit has not by then. After an interrupt
    the interpreter's exit joins the worker pool's queue threads, which can wait forever on a
    pipe the terminated workers no longer read (a run under load hung after its message);
    everything was committed file by file, so nothing is lost by ending there."""
    import threading

    def end() -> None:
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()


_GLOBAL_VALUES = ("--home", "--store", "--lexicon")
_GLOBAL_FLAGS = ("--raw-csv", "--excel", "-v", "-vv", "-vvv", "--verbose")


class _Speechkit(click.Group):
    """The root command. Its options may also follow the command (`speechkit search --home X
    …`): they are moved in front of it before click reads them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        front, rest, i = [], [], 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest.extend(args[i:])
                break
            name = arg.split("=", 1)[0]
            if rest and name in _GLOBAL_VALUES:
                take = 1 if "=" in arg else 2
                front.extend(args[i:i + take])
                i += take
                continue
            if rest and arg in _GLOBAL_FLAGS:
                front.append(arg)
            else:
                rest.append(arg)
            i += 1
        return super().parse_args(ctx, front + rest if rest else args)


@click.group(cls=_Speechkit, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="SPEECHKIT_HOME",
              help="Workspace: store in DIR/corpus/speechkit.db, indexes in DIR/indexes/. "
                   "Default: $SPEECHKIT_HOME or the current directory. Like --store, --lexicon, -v, "
                   "--raw-csv and --excel, it may also follow the command.")
@click.option("--store", metavar="URL", envvar="SPEECHKIT_STORE",
              help="A shared PostgreSQL store (postgresql://user@host/db) instead of the SQLite file; "
                   "indexes stay in DIR/indexes/. Default: $SPEECHKIT_STORE or the store setting.")
@click.option("--lexicon", type=click.Path(exists=True, dir_okay=False, resolve_path=True),
              help="Your own lexicon (one term per line, optional frequency), used with the shipped one at "
                   "index and query time alike. Default: $SPEECHKIT_LEXICON or the lexicon setting.")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
@click.option("--raw-csv", is_flag=True,
              help="Write CSV cells as they are. By default a cell starting with = + - @ gets a ' in front, "
                   "so a scraped title cannot become a live spreadsheet formula.")
@click.option("--excel", is_flag=True,
              help="Begin every CSV with a UTF-8 byte order mark, so Excel shows the Chinese instead of "
                   "mojibake (pandas and R read it too: encoding='utf-8-sig' / fileEncoding='UTF-8-BOM').")
@click.version_option(__version__, prog_name="speechkit")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, store: str | None, lexicon: str | None, verbose: int,
        raw_csv: bool, excel: bool) -> None:
    """Clean, index and analyse scraped Chinese political speeches.

    \b
    Typical run:
      speechkit ingest corpus/raw        # clean, split, date and de-duplicate
      speechkit index                    # build the search index
      speechkit search 营商环境 --year 2015..2024
      speechkit kwic 放管服               # concordance
      speechkit trend 营商环境 --plot t.png
      speechkit compare year:2008..2012 year:2019..2023
      speechkit topics -k 20 --probe 营商环境   # themes over passages, shares by year
      speechkit diff "year:2023 title:政府工作报告" "year:2024 title:政府工作报告"   # 提法
      speechkit spread 河长制             # who used it first, how it spread
      speechkit cluster -k auto          # clusters of whole speeches
      speechkit show ID                  # one speech with its metadata and evidence
      speechkit export --format csv      # one row per speech
    """
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"home": home, "store": store, "lexicon": lexicon, "raw_csv": raw_csv, "excel": excel}


class _CsvOut:
    """csv.writer / DictWriter with every cell passed through `spreadsheet_safe`, unless the
    user asked for --raw-csv; with --excel the output starts with a UTF-8 byte order mark."""

    def __init__(self, fh: Any, fieldnames: list[str] | None = None, **kwargs: Any) -> None:
        ctx = click.get_current_context(silent=True)
        root = (ctx.find_root().obj or {}) if ctx else {}
        self.raw = bool(root.get("raw_csv"))
        self.excel = bool(root.get("excel"))
        if self.excel:
            fh.write("\ufeff")
        self.w = csv.DictWriter(fh, fieldnames, **kwargs) if fieldnames is not None else csv.writer(fh)

    def writeheader(self) -> None:
        self.w.writeheader()

    def writerow(self, row: Any) -> None:
        if not self.raw:
            row = ({k: spreadsheet_safe(v) for k, v in row.items()} if isinstance(row, dict)
                   else [spreadsheet_safe(v) for v in row])
        self.w.writerow(row)

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar on stderr (only on a terminal) and the callback that moves it: every
    step that can take more than a couple of seconds shows one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, what: str = "") -> None:
            bar.update(task, completed=done, total=total, description=what[-40:])

        yield update


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj["home"], store=ctx.obj.get("store"), lexicon=ctx.obj.get("lexicon"),
                             **overrides)
    except SpeechkitError as exc:
        raise click.ClickException(str(exc)) from exc


def _workspace(ctx: click.Context, **overrides: Any) -> Workspace:
    """The command's one workspace: settings read once, one store, one segmenter."""
    from .workspace import Workspace

    return Workspace(_settings(ctx, **overrides))


def _engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--engine and --scheduler: where the heavy steps run (speechkit/engine.py)."""
    fn = click.option("--scheduler", metavar="ADDRESS", envvar="SPEECHKIT_SCHEDULER", default=None,
                      help="A running Dask scheduler (tcp://HOST:8786); implies --engine dask. "
                           "Default: $SPEECHKIT_SCHEDULER or the scheduler setting.")(fn)
    return click.option("--engine", type=click.Choice(["local", "dask"]), default=None,
                        help="local: a process pool on this machine (default); dask: a Dask cluster "
                             "(--scheduler, or a local one of --workers processes).")(fn)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS",
              help="Map a JSONL/CSV column to a speechkit field, e.g. --field text=content_html "
                   "--field date=pubtime (fields: text, title, date, url, site, id, speaker, region, level).")
@click.option("--prune", is_flag=True, help="Remove stored speeches whose files are gone.")
@click.option("--strict", is_flag=True,
              help="Exit non-zero if any file or record was skipped (also records skipped in an earlier run).")
@click.option("--force", is_flag=True, help="Re-process unchanged files too (after a change of the cleaning rules).")
@click.option("--workers", type=click.IntRange(0), default=None, help="Worker processes (0 = one per core).")
@_engine_options
@click.pass_context
@_fail_cleanly
def ingest(ctx: click.Context, paths: tuple[str, ...], fields: tuple[str, ...], prune: bool,
           strict: bool, force: bool, workers: int | None, engine: str | None = None,
           scheduler: str | None = None) -> None:
    """Ingest files, folders, globs or .gz into the corpus store.

    Reads .txt/.md (front matter as metadata), .html (visible main text) and .jsonl/.csv
    crawler dumps in any encoding. Unchanged files are skipped (a dump whose --field mapping
    changed is not unchanged), so re-running is cheap and resumes an interrupted run. Bad
    files, bad records and unreadable folders are reported and skipped.
    """
    from .ingest import ingest as run
    from .sources import parse_field_map

    ws = _workspace(ctx, workers=workers, engine=engine, scheduler=scheduler)
    settings = ws.settings
    field_map = parse_field_map(fields)
    with _progress("ingest") as progress, ws:
        report = run(paths, ws, field_map=field_map, prune=prune, force=force,
                     progress=lambda done, total, path: progress(done, total, Path(path).name))
    table = Table(title=f"ingest → {settings.store_label}", show_header=False)
    table.add_row("files", f"{report.files_seen} seen: {report.files_new} new, {report.files_changed} "
                  f"changed, {report.files_unchanged} unchanged" + (f", {report.files_pruned} pruned" if prune else ""))
    table.add_row("speeches", f"{report.speeches} stored from new or changed files")
    table.add_row("duplicates", f"{report.duplicates} non-canonical copies in the store")
    table.add_row("flags", ", ".join(f"{k} {v}" for k, v in report.flags.most_common()) or "none")
    table.add_row("skipped", str(len(report.skipped)))
    err.print(table)
    # one unwrapped line per skipped input, so the list can be grepped
    for where, why in report.skipped[:50]:
        click.echo(f"skipped {where}: {why}", err=True)
    if len(report.skipped) > 50:
        click.echo(f"… and {len(report.skipped) - 50} more (see `speechkit stats`)", err=True)
    if strict and report.skipped:
        raise click.ClickException(f"{len(report.skipped)} inputs were skipped (--strict)")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--explain", is_flag=True, help="Show what each cleaning step removed or changed.")
@click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS",
              help="For a JSONL/CSV dump: map a column, as for ingest (e.g. --field text=content_html).")
@_fail_cleanly
def clean(file: Path, explain: bool, fields: tuple[str, ...]) -> None:
    """Clean one file and print the result (nothing is stored).

    The file is read exactly as `ingest` reads it: decoded, front matter set aside, a saved
    page reduced to its main text, a dump split into its records (each printed under a
    `== record ==` line). With --explain, each step that changed the text is listed with what
    it removed (-) and added (+), before the cleaned text.
    """
    from .clean import clean_text
    from .errors import DocumentProblem
    from .pipeline import to_text
    from .sources import parse_field_map, read_bytes, read_units

    try:
        data = read_bytes(file)
    except DocumentProblem as exc:
        raise click.ClickException(f"{file}: {exc.reason}") from None
    units, problems = read_units(file, str(file), data, parse_field_map(fields))
    for record, why in problems:
        click.echo(f"skipped {file} {record}: {why}", err=True)
    for unit in units:
        try:
            text, encoding, lossy, _, kind = to_text(unit)
        except DocumentProblem as exc:
            click.echo(f"skipped {file} {unit.record}: {exc.reason}", err=True)
            continue
        result = clean_text(text, kind=kind, explain=explain)
        if len(units) > 1:
            click.echo(f"== {unit.record} ==")
        if explain:
            err.print(f"[bold]{file}[/] {unit.record} decoded as {encoding}" + (" (lossy)" if lossy else ""),
                      markup=True, highlight=False)
            for step in result.steps:
                err.print(f"[bold]{step.name}[/]  -{step.removed} +{step.added} chars")
                for removed, added in step.sample:
                    if removed:
                        err.print(f"  [red]- {removed!r}[/]")
                    if added:
                        err.print(f"  [green]+ {added!r}[/]")
            if not result.steps:
                err.print("no step changed the text")
        click.echo(result.text)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets other machines read the corpus.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes, each answering one request at a time with its own open indexes.")
@click.pass_context
@_fail_cleanly
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Open the research workbench in the browser: search with filters, documents with their
    evidence, KWIC, trends, with CSV/JSON downloads and a JSON API under /api/ (read-only).

    \b
      speechkit serve            # then open http://127.0.0.1:8765/
      curl 'http://127.0.0.1:8765/api/search?q=营商环境&year_from=2015'
    """
    try:
        from .serve import serve as run
    except ImportError as exc:
        raise SpeechkitError(f"speechkit serve needs the serve extra ({exc.name} is missing): "
                             "pip install 'speechkit[serve]'") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[bold yellow]warning:[/] listening on {host}: anyone who can reach this machine can read "
                  "the corpus (there is no login)")
    err.print(f"speechkit workbench on http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/ "
              "(Ctrl-C stops it)")
    run(_settings(ctx), host=host, port=port, workers=workers)


@cli.command()
@click.argument("doc_id")
@click.option("--original", is_flag=True, help="Print the text as decoded, before cleaning.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every field.")
@click.pass_context
@_fail_cleanly
def show(ctx: click.Context, doc_id: str, original: bool, as_json: bool) -> None:
    """Show one speech: metadata with evidence, flags, cleaning steps, text. A unique id
    prefix is enough."""

    with _workspace(ctx) as ws:
        doc = ws.store.get(doc_id)
    if as_json:
        record = doc.to_record()
        if not original:
            record.pop("original")
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    table = Table(show_header=False, title=f"{doc.id}  {doc.title or '(untitled)'}")
    for name in ("source_path", "part", "date", "year", "speaker_role", "speaker_name", "level",
                 "region", "site", "url", "encoding", "truncated", "masked", "dup_group", "canonical"):
        value = getattr(doc, name)
        if name == "part":
            value = f"{doc.part} of {doc.parts}" + (f" (record {doc.record})" if doc.record else "")
        elif name == "date" and value:
            value = f"{value}  [{doc.date_source}]"
        elif name == "year":
            bounds = f"  range {doc.year_min or '?'}–{doc.year_max or '?'}" if doc.year_min or doc.year_max else ""
            value = (f"{value}  [{doc.year_source}]" if value else "unknown") + bounds
        elif name == "truncated" and value:
            value = f"yes, {doc.shown_chars} of {doc.total_chars} chars shown" if doc.total_chars else "yes"
        if value not in (None, "", False) or name in ("year", "canonical"):
            table.add_row(name, str(value))
    for key, value in doc.evidence.items():
        table.add_row(f"evidence.{key}", value)
    table.add_row("flags", ", ".join(doc.flags) or "none")
    table.add_row("steps", ", ".join(doc.steps) or "none")
    out.print(table)
    from .clean.normalize import remove_control_chars

    # the original is kept as decoded, escape sequences included: never print them raw
    click.echo(remove_control_chars(doc.original) if original else doc.text)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable counts.")
@click.option("--vocabulary/--no-vocabulary", default=True, show_default=True,
              help="Top words overall and per year (segments what the index has not).")
@click.pass_context
@_fail_cleanly
def stats(ctx: click.Context, as_json: bool, vocabulary: bool) -> None:
    """Counts of canonical speeches per year, level, site and flag, skipped inputs, and the
    vocabulary: top words overall and per year."""
    from .report import corpus_stats

    result = corpus_stats(_settings(ctx))
    if vocabulary:
        from .clusters import vocabulary as vocab
        from .corpus import Corpus

        with _workspace(ctx) as ws, Corpus(ws) as corpus, _progress("vocabulary") as progress:
            result["vocabulary"] = vocab(corpus, progress=progress)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    head = Table(show_header=False, title="corpus")
    for key in ("files", "speeches", "canonical", "duplicates", "skipped"):
        head.add_row(key, str(result[key]))
    out.print(head)
    for section in ("year", "level", "site", "date_source", "flags"):
        table = Table(title=f"speeches by {section}")
        table.add_column(section)
        table.add_column("count", justify="right")
        for key, n in result["by_" + section]:
            table.add_row(str(key), str(n))
        out.print(table)
    if vocabulary:
        v = result["vocabulary"]
        table = Table(title="vocabulary: top words")
        table.add_column("years")
        table.add_column("words (count)", overflow="fold")
        table.add_row("all", "、".join(f"{w} {n}" for w, n in v["overall"]))
        for year, words in v["by_year"].items():
            table.add_row(year, "、".join(f"{w} {n}" for w, n in words))
        out.print(table)
    for path, record, why in result["problems"][:30]:
        click.echo(f"skipped {path}{' ' + record if record else ''}: {why}", err=True)




def _selection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The same selection flags on every command that selects speeches: --year, --speaker,
    --level, --site, --region and --filter (the query language's filters). The command gets
    them as `filters` (a list of Filter) and `selection` (the same in query syntax, for
    provenance)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, year: str | None, speaker: str | None, level: str | None, site: str | None,
                region: str | None, selection_spec: str | None, **kwargs: Any) -> Any:
        from .query import flag_filters, selection_filters

        flags = {"year": year, "speaker": speaker, "level": level, "site": site, "region": region}
        try:
            filters = flag_filters(**flags) + selection_filters(selection_spec)
        except SpeechkitError as exc:  # read before the command's own error handling
            raise click.ClickException(str(exc)) from None
        kwargs["filters"] = filters
        kwargs["selection"] = " ".join([*(f"{k}:{v}" for k, v in flags.items() if v), selection_spec or ""]).strip()
        return fn(*args, **kwargs)

    for opt in reversed([
        click.option("--year", help="Year or range: 2020, 2019..2023, ..2012, 2015.."),
        click.option("--speaker", help="Speaker role or name contains this (县委书记, 李克强)."),
        click.option("--level", help="national, province, city, county, district or township."),
        click.option("--site", help="Source site contains this (gov.cn)."),
        click.option("--region", help="Region contains this (安徽)."),
        click.option("--filter", "selection_spec", metavar="FILTERS",
                     help="Filters in query syntax, e.g. 'year:2013..2023 level:province'."),
    ]):
        wrapper = opt(wrapper)
    return wrapper


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--all", "include_all", is_flag=True, help="Include non-canonical near-duplicate copies.")
@_selection_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@click.pass_context
@_fail_cleanly
def export(ctx: click.Context, fmt: str, include_all: bool, filters: list[Any], selection: str,
           output: Path | None) -> None:
    """Export one record per speech (canonical copies unless --all), for R, Stata or pandas;
    the selection flags export a subcorpus, e.g. --year 2013..2023 --level province."""

    with _workspace(ctx) as ws:
        store = ws.store
        # every record names the corpus it came from (the digest `search --json` and the analyses
        # report), so a subcorpus in R or Stata can be traced back
        corpus = store.canonical_digest()[0]
        rows = ({**row, "corpus": corpus}
                for row in (doc.to_record() for doc in store.documents(canonical_only=not include_all))
                if all(f.matches(row) for f in filters))
        try:
            fh = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc} "
                                       "(check that the folder exists)") from None
        written, bom = 0, ""
        try:
            if fmt == "csv":
                writer = _CsvOut(fh, [*EXPORT_FIELDS, "corpus"], extrasaction="ignore")
                bom = ", with a byte order mark for Excel" if writer.excel else ""
                writer.writeheader()
                for row in rows:
                    row["flags"] = ";".join(row["flags"])
                    writer.writerow(row)
                    written += 1
            else:
                for row in rows:
                    record = {k: v for k, v in row.items() if k in EXPORT_FIELDS or k == "corpus"}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    written += 1
        finally:
            if output:
                fh.close()
        what = "speeches and copies" if include_all else "speeches (canonical copies)"
        where = f" to {output}" if output else ""
        sel = f" in {selection}" if selection else ""
        click.echo(f"exported {written} {what}{sel} as {fmt.upper()}{where}{bom}; corpus {corpus}", err=True)


@cli.command()
@click.option("--rebuild", is_flag=True, help="Build from scratch instead of adding what changed.")
@click.option("--check", is_flag=True,
              help="Write nothing: hash every file of the index and compare it with what its build recorded; "
                   "exit 1 naming the damaged files (a plain `speechkit index` repairs them).")
@click.option("--workers", type=click.IntRange(0), default=None, help="Segmentation processes (0 = one per core).")
@_engine_options
@click.pass_context
@_fail_cleanly
def index(ctx: click.Context, rebuild: bool, workers: int | None,
          engine: str | None = None, scheduler: str | None = None, check: bool = False) -> None:
    """Build or update the search index from the store's canonical speeches.

    Only new, changed and removed speeches are written; tokens are cached in the store, so
    unchanged speeches are never segmented again. An interrupted build leaves the previous
    index usable. Postings are held in memory up to `index_memory_mb` (speechkit.cfg, default
    1024: one segment holds about 100,000 speeches of 1,300 characters), then written out as
    another segment.

    The exact-match files and whoosh's files are recorded with their size and SHA-256 digest:
    searches refuse one written since (truncated, altered, half-copied) with the command that
    repairs it, and a plain `speechkit index` writes the damaged part again.
    """
    from .index.build import build_index

    if check:
        with _workspace(ctx) as ws:
            damaged = ws.check_index()
        if damaged:
            names = [f"{part}/{name}" for part, files in damaged.items() for name in files]
            raise click.ClickException(f"{len(names)} index files are damaged ({', '.join(names[:5])}); "
                                       "run `speechkit index` to repair them")
        err.print("the index is whole: every file its build recorded is as it was written")
        return
    with _progress("index") as progress, _workspace(ctx, workers=workers, engine=engine,
                                                    scheduler=scheduler) as ws:
        report = build_index(ws, rebuild=rebuild, progress=progress)
    err.print(f"index {'rebuilt' if report.rebuilt else 'updated'} in {report.seconds:.1f}s: "
              f"{report.added} added, {report.updated} updated, {report.removed} removed, "
              f"{report.unchanged} unchanged ({report.segmented} segmented)")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS", help="As for `ingest`.")
@click.option("--prune", is_flag=True, help="Remove speeches whose files are gone.")
@click.option("--workers", type=click.IntRange(0), default=None, help="Worker processes (0 = one per core).")
@_engine_options
@click.pass_context
@_fail_cleanly
def update(ctx: click.Context, paths: tuple[str, ...], fields: tuple[str, ...], prune: bool,
           workers: int | None, engine: str | None, scheduler: str | None) -> None:
    """Ingest PATHS and bring the index up to date: the bulk re-indexing path."""
    ctx.invoke(ingest, paths=paths, fields=fields, prune=prune, strict=False, force=False, workers=workers,
               engine=engine, scheduler=scheduler)
    ctx.invoke(index, rebuild=False, workers=workers, engine=engine, scheduler=scheduler)


def _render_passage(passage: Any) -> str:
    text, marks = passage.text, passage.highlights
    out, last = [], 0
    for s, e in marks:
        if s < last:
            continue
        out.append(text[last:s].replace("[", "\\[").replace("\n", " "))
        out.append(f"[bold red]{text[s:e]}[/]")
        last = e
    out.append(text[last:].replace("[", "\\[").replace("\n", " "))
    return "…" + "".join(out) + "…"


@cli.command()
@click.argument("query")
@_selection_options
@click.option("--limit", "--top", "limit", type=click.IntRange(1), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--sort", type=click.Choice(["score", "date"]), default="score", show_default=True)
@click.option("--passages", type=click.IntRange(0, 10), default=3, show_default=True,
              help="Highlighted passages per hit.")
@click.option("--json", "as_json", is_flag=True, help="JSON: total, parsed query, hits with passages and offsets.")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV: one row per hit, with the total, corpus digest and segmenter version.")
@click.pass_context
@_fail_cleanly
def search(ctx: click.Context, query: str, filters: list[Any], selection: str, limit: int, offset: int,
           sort: str, passages: int, as_json: bool, as_csv: bool) -> None:
    """Find speeches: words, "quoted phrases", AND/OR/NOT, ( ), and filters
    year:2019..2023 speaker:县委书记 level:county site:… region:… title:….

    Words side by side are ANDed, and AND binds tighter than OR: write
    '("优化营商环境" OR 放管服) level:province', since '"优化营商环境" OR 放管服 level:province'
    means 优化营商环境 OR (放管服 AND level:province).

    An unquoted Chinese word is a phrase, never split into its parts. The hits are exactly
    the speeches containing it (the total is exact); they are ranked by BM25F (with
    search = server in speechkit.cfg: on the PostgreSQL server, by the number of a
    speech's sections of 400 characters that hold a phrase, BM25-saturated).
    """
    from .search import open_searcher

    with _workspace(ctx) as ws, open_searcher(ws) as s:
        result = s.search(query, filters=filters, limit=limit,
                          offset=offset, sort=sort, passages=0 if as_csv else passages)
    if _emit(result, as_json, as_csv, result.csv_rows(offset + 1) if as_csv else None):
        return
    table = Table(title=f"{result.total} speeches match {result.parsed}"
                        + (f" — showing {offset + 1}–{offset + len(result.hits)}" if result.hits else ""))
    for col in ("id", "title / passages", "date / region", "speaker", "score"):
        table.add_column(col, overflow="fold")
    for h in result.hits:
        body = (h.title or "(untitled)") + "".join("\n" + _render_passage(p) for p in h.passages)
        where = "\n".join(x for x in (h.date or str(h.year or ""), h.region) if x)
        table.add_row(h.id, body, where, " ".join(x for x in (h.speaker_role, h.speaker_name) if x),
                      f"{h.score:.2f} ({h.occurrences}×)")
    out.print(table)


@cli.command()
@click.argument("term")
@click.option("--width", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Characters of context each side.")
@click.option("--sort", type=click.Choice(["left", "right", "date"]), default="date", show_default=True)
@_selection_options
@click.option("--limit", "--top", "limit", type=click.IntRange(1), default=None,
              help="At most this many lines (the total counts all).")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many lines of the sorted concordance (with --limit: one page of it).")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV: left, keyword, right, id, date, title, region, offset, total, corpus digest, "
                   "segmenter version.")
@click.option("--json", "as_json", is_flag=True, help="JSON: term, total, shown, provenance and the lines.")
@click.pass_context
@_fail_cleanly
def kwic(ctx: click.Context, term: str, width: int, sort: str, filters: list[Any], selection: str,
         limit: int | None, offset: int, as_csv: bool, as_json: bool) -> None:
    """Concordance: every occurrence of TERM in the canonical speeches, with context."""
    from .search import open_searcher

    with _workspace(ctx) as ws, open_searcher(ws) as s:
        result = s.kwic(term, width=width, sort=sort, filters=filters, limit=limit, offset=offset)
    lines = result.lines
    if _emit(result, as_json, as_csv):
        return
    # the keyword, id and date always show whole; the contexts get what the terminal has left,
    # cut where they meet the terminal's edge (the left context keeps its end, next to the keyword)
    key_w, id_w, date_w, borders = max((cell_len(line["keyword"]) for line in lines), default=0), 12, 10, 16
    side = max(6, (out.width - key_w - id_w - date_w - borders) // 2)
    side = min(side, max((cell_len(line[k]) for line in lines for k in ("left", "right")), default=side))
    shown = f" (showing {result.offset + 1}–{result.offset + len(lines)})" if len(lines) < result.total else ""
    table = Table(title=f"{result.total} occurrences of {term}" + (f" in {selection}" if selection else "") + shown)
    table.add_column("left", justify="right", no_wrap=True, width=side)
    table.add_column("keyword", style="bold red", no_wrap=True, min_width=key_w)
    table.add_column("right", no_wrap=True, width=side)
    table.add_column("id", no_wrap=True, min_width=id_w)
    table.add_column("date", no_wrap=True, min_width=date_w)
    for line in lines:
        table.add_row(_fit(line["left"], side, keep_end=True), line["keyword"], _fit(line["right"], side),
                      line["id"], line["date"] or "")
    out.print(table)


def _fit(text: str, width: int, *, keep_end: bool = False) -> str:
    """`text` cut to `width` terminal cells (a Chinese character takes two), marked with …

    >>> _fit("优化营商环境", 7), _fit("优化营商环境", 7, keep_end=True)
    ('优化营…', '…商环境')
    """
    if cell_len(text) <= width:
        return text
    if keep_end:
        return "…" + set_cell_size(text[::-1], width - 1)[::-1].lstrip()
    return set_cell_size(text, width - 1).rstrip() + "…"


@cli.command()
@click.argument("query")
@click.option("--doc", "doc_id", help="Explain this speech (matched or not; a unique id prefix) instead of a sample.")
@click.option("--json", "as_json", is_flag=True, help="The explanation as JSON.")
@click.pass_context
@_fail_cleanly
def explain(ctx: click.Context, query: str, doc_id: str | None, as_json: bool) -> None:
    """Show how QUERY is parsed and segmented, which lexicon entries apply, and why a speech
    matches (where the phrase was found, and how the text around it was segmented)."""
    from .search import Searcher

    with _workspace(ctx) as ws, Searcher(ws) as s:
        data = s.explain(query, doc_id=doc_id)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"query   {data['query']}\nparsed  {data['parsed']}\nmatches {data['total']} speeches")
    for ph in data["phrases"]:
        words = " | ".join(w["token"] + ("*" if w["lexicon"] else "") for w in ph["segmented"])
        click.echo(f"\nphrase {ph['phrase']} ({ph['field']}): matching form {ph['matching_form']}, "
                   f"in {ph['documents']} speeches\n  segmented: {words}   (* = lexicon term)")
    for doc in data["documents"]:
        click.echo(f"\nspeech {doc['id']}: {'matches' if doc['matched'] else 'does not match'}")
        for hit in doc["found_at"][:5]:
            click.echo(f"  found at {hit['start']}–{hit['end']}: {hit['text']}")
        if doc["sample_segmented"]:
            click.echo("  the text around it, segmented: "
                       + " | ".join(w["token"] + ("*" if w["lexicon"] else "") for w in doc["sample_segmented"]))


_DUPS = click.option("--include-duplicates", is_flag=True, help="Count non-canonical near-duplicate copies too.")
_FORMATS = [click.option("--json", "as_json", is_flag=True, help="JSON, with the corpus digest and segmenter version."),
            click.option("--csv", "as_csv", is_flag=True, help="CSV, with the corpus digest and segmenter version.")]


def _formats(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(_FORMATS):
        fn = opt(fn)
    return fn


def _emit(result: Any, as_json: bool, as_csv: bool, rows: list[list[Any]] | None = None) -> bool:
    """Write a result's --json (`to_json`) or --csv (`csv_rows`, or `rows`: the same writer
    as the workbench's downloads); True when done."""
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return True
    if as_csv:
        _CsvOut(sys.stdout).writerows(result.csv_rows() if rows is None else rows)
        return True
    return False


@cli.command()
@click.argument("terms", nargs=-1, required=True)
@click.option("--by", type=click.Choice(["year", "level", "speaker_role"]), default="year", show_default=True)
@click.option("--from", "year_from", type=int, help="First year (empty years inside the range show as 0).")
@click.option("--to", "year_to", type=int, help="Last year.")
@_selection_options
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw a line chart to FILE.png.")
@_DUPS
@_formats
@click.pass_context
@_fail_cleanly
def trend(ctx: click.Context, terms: tuple[str, ...], by: str, year_from: int | None, year_to: int | None,
          filters: list[Any], selection: str, plot: Path | None, include_duplicates: bool, as_json: bool,
          as_csv: bool) -> None:
    """Occurrences of TERMS per year (or level, speaker role): exact counts as in `search`,
    documents containing them, the bucket's size, and the rate per 10,000 characters. Each
    term's first appearance in the whole corpus (the earliest dated speech) is shown below."""
    from .corpus import Corpus
    from .trends import trend as run

    with _workspace(ctx) as ws, Corpus(ws) as corpus:
        result = run(corpus, list(terms), by=by, year_from=year_from, year_to=year_to,
                     filters=filters, include_duplicates=include_duplicates)
    if plot:
        from .plots import plot_trend

        plot_trend(result, plot)
        err.print(f"chart written to {plot}")
    if _emit(result, as_json, as_csv):
        return
    table = Table(title=f"trend by {by} — corpus {result.provenance['corpus'][:10]}")
    for col in (by, "term", "occurrences", "documents", "chars", "docs in bucket", "per 10k chars"):
        table.add_column(col, justify="right" if col not in (by, "term") else "left")
    for r in result.rows:
        table.add_row(r.bucket, r.term, str(r.occurrences), str(r.documents), str(r.total_chars),
                      str(r.total_documents), f"{r.rate_per_10k:.3f}")
    out.print(table)
    for term, first in result.first_seen.items():
        out.print(f"{term}: first seen {first['year']} in {first['title'] or first['id']} ({first['id']}), "
                  f"in {first['speeches']} dated speeches of the whole corpus" if first
                  else f"{term}: in no dated speech of the corpus")


@cli.command()
@click.argument("a")
@click.argument("b")
@click.option("--limit", "--top", "top", type=click.IntRange(1), default=30, show_default=True, help="Words per side.")
@click.option("--min-freq", type=click.IntRange(1), default=5, show_default=True)
@_DUPS
@_formats
@click.pass_context
@_fail_cleanly
def compare(ctx: click.Context, a: str, b: str, top: int, min_freq: int, include_duplicates: bool,
            as_json: bool, as_csv: bool) -> None:
    """Keywords of selection A against selection B (and B against A): log-likelihood G² and
    log ratio, with document frequencies. A and B are filters, e.g. 'year:2008..2012'
    'year:2019..2023' or 'level:province' 'level:city'. Stopwords and masked placeholders
    never appear."""
    from .corpus import Corpus
    from .keyness import compare as run
    from .query import selection_filters

    with _workspace(ctx) as ws, Corpus(ws) as corpus:
        result = run(corpus, selection_filters(a), selection_filters(b), label_a=a, label_b=b, top=top,
                     min_freq=min_freq, include_duplicates=include_duplicates)
    if _emit(result, as_json, as_csv):
        return
    for label in (a, b):
        table = Table(title=f"key words of {label} ({result.docs[0] if label == a else result.docs[1]} speeches)")
        for col in ("word", "freq A", "freq B", "docs A", "docs B", "G²", "log ratio"):
            table.add_column(col, justify="left" if col == "word" else "right")
        for w in result.words:
            if w.side == label:
                table.add_row(w.word + (" ★" if w.lexicon else ""), str(w.freq_a), str(w.freq_b), str(w.docs_a),
                              str(w.docs_b), f"{w.g2:.1f}", f"{w.log_ratio:.2f}")
        out.print(table)


@cli.command()
@click.argument("term")
@click.option("--window", type=click.IntRange(1, 20), default=5, show_default=True, help="Words each side.")
@click.option("--measure", type=click.Choice(["logdice", "mi", "ll"]), default="logdice", show_default=True)
@click.option("--limit", "--top", "top", type=click.IntRange(1), default=30, show_default=True)
@click.option("--min-freq", type=click.IntRange(1), default=3, show_default=True)
@click.option("--include-node", is_flag=True, help="Also list TERM itself and words that contain it.")
@_selection_options
@_DUPS
@_formats
@click.pass_context
@_fail_cleanly
def collocates(ctx: click.Context, term: str, window: int, measure: str, top: int, min_freq: int,
               filters: list[Any], selection: str, include_node: bool, include_duplicates: bool, as_json: bool,
               as_csv: bool) -> None:
    """Words that occur near TERM, with co-occurrence and overall frequencies. TERM itself and
    words containing it (优化营商环境 for 营商环境) are left out unless --include-node."""
    from .corpus import Corpus
    from .keyness import collocates as run

    with _workspace(ctx) as ws, Corpus(ws) as corpus, _progress("collocates") as progress:
        result = run(corpus, term, window=window, measure=measure, top=top, min_freq=min_freq,
                     filters=filters, include_duplicates=include_duplicates, include_node=include_node,
                     progress=progress)
    if _emit(result, as_json, as_csv):
        return
    table = Table(title=f"collocates of {term} ({result.term_freq}×, ±{window} words, {measure})")
    for col in ("word", "together", "freq", measure):
        table.add_column(col, justify="left" if col == "word" else "right")
    for c in result.collocates:
        table.add_row(c.word, str(c.cooccurrences), str(c.freq), f"{c.score:.2f}")
    out.print(table)


def _clustering(ctx: click.Context, run: Callable[..., Any], label: str, k: str, k_range: str, name: str,
                settings: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """`cluster` and `topics`: check -k, --k-range and --name, then run with a progress bar
    (`settings`: overrides such as the engine)."""
    from .clusters import check_name
    from .corpus import Corpus

    lo_hi = _k_range(k, k_range)
    check_name(name)
    with _workspace(ctx, **(settings or {})) as ws, Corpus(ws) as corpus, _progress(label) as progress:
        return run(corpus, k=k if k == "auto" else int(k), name=name, k_range=lo_hi, progress=progress, **kwargs)


def _k_range(k: str, k_range: str) -> tuple[int, int]:
    """-k and --k-range checked: a number or auto, and LO..HI (or LO-HI)."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*(?:\.\.|-)\s*(\d+)\s*", k_range)
    if not m or not 2 <= int(m.group(1)) <= int(m.group(2)):
        raise click.BadParameter(f"{k_range!r}: write LO..HI with 2 <= LO <= HI, e.g. 4..20", param_hint="--k-range")
    if k != "auto" and not k.isdigit():
        raise click.BadParameter("-k takes a number or auto")
    return int(m.group(1)), int(m.group(2))


def _print_clusters(data: dict[str, Any]) -> None:
    head = f"{data['name']}: k={data['k']}, {data['documents']} speeches, seed {data['seed']}"
    if data.get("silhouette") is not None:
        head += f", silhouette {data['silhouette']}"
    table = Table(title=head)
    for col in ("cluster", "size", "labels", "representative speeches"):
        table.add_column(col, overflow="fold")
    for c in data["clusters"]:
        reps = "\n".join(f"{r['id']} {r['year'] or ''} {r['title'] or ''}" for r in c["representatives"])
        table.add_row(str(c["cluster"]), str(c["size"]), "、".join(c["labels"]), reps)
    out.print(table)
    if data.get("k_scores"):
        err.print("silhouette by k: " + ", ".join(f"{k}: {v}" for k, v in data["k_scores"].items()))
    if data.get("k_note"):
        click.echo(data["k_note"], err=True)


@cli.group(invoke_without_command=True)
@click.option("-k", "k", default="auto", show_default=True, help="Number of clusters, or auto (best silhouette).")
@click.option("--k-range", default="4..20", show_default=True, help="Range tried by -k auto: LO..HI (or LO-HI).")
@_selection_options
@click.option("--name", default="default", show_default=True,
              help="Saved under indexes/topics/NAME/ (a plain name: letters, digits, - and _).")
@click.option("--seed", type=int, default=0, show_default=True)
@_DUPS
@click.option("--json", "as_json", is_flag=True, help="JSON, with the corpus digest and segmenter version.")
@click.pass_context
@_fail_cleanly
def cluster(ctx: click.Context, k: str, k_range: str, filters: list[Any], selection: str, name: str, seed: int,
            include_duplicates: bool, as_json: bool) -> None:
    """Topic clusters: TF-IDF over the speeches' words, LSA, seeded k-means. Each cluster gets
    labels (c-TF-IDF), its size, its 3 most representative speeches and its share by year.
    `speechkit cluster show NAME` prints a saved result."""
    if ctx.invoked_subcommand is not None:
        return
    from .clusters import cluster as run

    result = _clustering(ctx, run, "cluster", k, k_range, name, filters=filters, seed=seed,
                         selection=selection, include_duplicates=include_duplicates)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    _print_clusters(result.to_json())


@cluster.command("show")
@click.argument("name", default="default")
@click.option("--json", "as_json", is_flag=True, help="The saved JSON.")
@click.pass_context
@_fail_cleanly
def cluster_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Print a saved clustering."""
    from .clusters import load_clusters

    data = load_clusters(_settings(ctx), name)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_clusters(data)


def _print_themes(data: dict[str, Any], by: str) -> None:
    head = (f"{data['name']}: {len(data['themes'])} themes that hold (k={data['k']}) over {data['passages']} "
            f"passages of {data['speeches']} speeches")
    if data.get("silhouette") is not None:
        head += f", silhouette {data['silhouette']}"
    if data.get("stability") is not None:
        head += f", agreement with its resamples (adjusted Rand) {data['stability']}"
    table = Table(title=head)
    for col in ("theme", "share", "held", "labels", "representative passages"):
        table.add_column(col, overflow="fold")
    for t in sorted(data["themes"], key=lambda t: -t["share"]):
        reps = "\n".join(f"[{r['year'] or '?'} {r['region'] or ''} {r['title'] or ''}] {r['text'][:60]}"
                         for r in t["representatives"])
        held = "" if t.get("stability") is None else f"{t['stability']:.2f}"
        name = f"[{t['name']}] " if t.get("name") else ""
        table.add_row(str(t["topic"]), f"{t['share']:.1%}", held, name + "、".join(t["labels"]), reps)
    other = data.get("other") or {}
    if other:
        gone = "; ".join("、".join(d["labels"][:3]) + f" (held {d['held']:.2f})" for d in other.get("dissolved", []))
        table.add_row("other", f"{other['share']:.1%}", "", "passages in no theme that holds"
                      + (f"; themes that did not hold: {gone}" if gone else ""), "")
    out.print(table)
    if not data["themes"]:
        err.print(f"no theme holds on {data['passages']} passages of {data['speeches']} speeches: every passage is "
                  "in other (the themes that did not hold are listed); a few hundred speeches, or a smaller -k, "
                  "give themes that hold")
    if data.get("stability") is not None:  # themes saved before it was measured have none
        err.print("held: mean Jaccard of a theme's passages with the closest theme on resamples of the passages "
                  "(under 0.5 it dissolved, over 0.75 it held); a theme under 0.6 is not labelled: it is in other")
    for attr, c in (data.get("chance") or {}).items():
        err.print(f"main theme and {attr}: AMI {c['ami']} (shuffled {attr}s: {c['shuffled']}; "
                  f"{c['speeches']} speeches)")
    shares = data["share_by"][by]
    if shares and data["themes"]:  # with no theme, the table would be its years alone
        top = [str(t["topic"]) for t in sorted(data["themes"], key=lambda t: -t["share"])[:8]]
        table = Table(title=f"share of the 8 largest themes by {by} (of passage characters)")
        table.add_column(by)
        for c in top:
            table.add_column(c, justify="right")
        for bucket, row in shares.items():
            table.add_row(bucket, *(f"{row.get(c, 0.0):.1%}" for c in top))
        out.print(table)
    if data.get("k_scores"):
        err.print("by k (silhouette / stability): " + ", ".join(
            f"{k}: {v['silhouette']} / {v['stability']}" for k, v in data["k_scores"].items()))
    if data.get("k_note"):
        click.echo(data["k_note"], err=True)
    labels = {t["topic"]: "、".join(t["labels"][:4]) for t in data["themes"]}
    for term, p in (data.get("probes") or {}).items():
        if p["passages"] and p["top_topic"] is None:
            out.print(f"{term}: {p['passages']} passages, all in other")
        elif p["passages"]:
            out.print(f"{term}: {p['passages']} passages, {p['top_share']:.0%} of them in theme "
                      f"{p['top_topic']} ({labels[p['top_topic']]})")
        else:
            out.print(f"{term}: in no passage of the selection")


@cli.group(invoke_without_command=True)
@click.option("-k", "k", default="20", show_default=True,
              help="Number of themes, or auto (best silhouette among the k that are stable across seeds).")
@click.option("--k-range", default="8..30", show_default=True, help="Range tried by -k auto: LO..HI.")
@_selection_options
@click.option("--name", default="themes", show_default=True,
              help="Saved under indexes/topics/NAME/ (a plain name: letters, digits, - and _).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Draws the samples -k auto and the silhouette use; the themes do not depend on it.")
@click.option("--seed-theme", "seed_themes", multiple=True, metavar="NAME=WORD,WORD",
              help="A theme you name and define by its words (营商环境=营商环境,放管服,一网通办): the passages "
                   "that contain them pull a theme of their own; the others are found around it (repeatable).")
@click.option("--by", type=click.Choice(["year", "level"]), default="year", show_default=True,
              help="Theme shares by year or by administrative level.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the shares of the 8 largest themes to FILE.png.")
@click.option("--probe", "probes", multiple=True, metavar="TERM",
              help="Also say which themes hold the passages containing TERM (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="JSON: themes, shares, choice of k, provenance.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one row per (year or level, theme) with its share.")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Processes that read the passages (0 = one per core).")
@_engine_options
@click.pass_context
@_fail_cleanly
def topics(ctx: click.Context, k: str, k_range: str, filters: list[Any], selection: str, name: str, seed: int,
           seed_themes: tuple[str, ...], by: str, plot: Path | None, probes: tuple[str, ...], as_json: bool,
           as_csv: bool, workers: int | None = None, engine: str | None = None, scheduler: str | None = None) -> None:
    """Themes over passages: speeches are cut into passages (paragraphs, a heading joined to
    what it heads), passages are clustered (TF-IDF, LSA, then a consensus of 10 k-means starts),
    and each speech gets its theme shares. Place names, words nearly every speech uses,
    numbers, years, units (万千瓦) and self-references (全市, 我省) are not features. The themes
    are the same on every run; `held` says how far each survives on resamples of the passages
    (Jaccard; under 0.5 it dissolved), and a theme under 0.6 is not labelled: its passages, and
    those the resamples place elsewhere, are "other" (on gov-reports, k=20: 17 themes held
    0.72-0.96, other 12%). How far the main theme follows region, level and 5-year period is
    given as AMI next to its level with that attribute shuffled.

    \b
    Example: the weight of business-environment passages in provincial reports
      speechkit topics -k 20 --level province --name prov --probe 营商环境
      speechkit topics show prov --by year --csv > shares.csv
      speechkit topics -k 20 --seed-theme 营商环境=营商环境,放管服,一网通办   # a theme you define

    Saved under indexes/topics/NAME/ (themes.json, speech_shares.csv, share_by_year.csv);
    `speechkit topics show NAME` prints a saved result. Passages are read by --workers
    processes, or on Dask with --engine dask / --scheduler; the themes are the same."""
    if ctx.invoked_subcommand is not None:
        return
    from .topics import themes as run

    result = _clustering(ctx, run, "topics", k, k_range, name, filters=filters, seed=seed,
                         selection=selection, probes=list(probes), seed_themes=_seed_themes(seed_themes),
                         settings={"workers": workers, "engine": engine, "scheduler": scheduler})
    _show_themes(result.to_json(), by, plot, as_json, as_csv)


def _seed_themes(specs: tuple[str, ...]) -> dict[str, list[str]]:
    """--seed-theme NAME=WORD,WORD as {name: words}."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, words = spec.partition("=")
        listed = [w.strip() for w in words.replace("，", ",").replace("、", ",").split(",") if w.strip()]
        if not sep or not name.strip() or not listed:
            raise click.BadParameter(f"{spec!r}: give NAME=WORD,WORD (营商环境=营商环境,放管服)",
                                     param_hint="--seed-theme")
        out[name.strip()] = listed
    return out


def _show_themes(data: dict[str, Any], by: str, plot: Path | None, as_json: bool, as_csv: bool) -> None:
    if plot is not None:
        from .plots import plot_theme_shares

        err.print(f"chart: {plot_theme_shares(data, plot, by=by)}")
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif as_csv:
        from .topics import share_rows

        _CsvOut(sys.stdout).writerows(share_rows(data, by))
    else:
        _print_themes(data, by)


@topics.command("show")
@click.argument("name", default="themes")
@click.option("--by", type=click.Choice(["year", "level"]), default="year", show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Draw the shares to FILE.png.")
@click.option("--json", "as_json", is_flag=True, help="The saved JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Shares by year or level as CSV.")
@click.pass_context
@_fail_cleanly
def topics_show(ctx: click.Context, name: str, by: str, plot: Path | None, as_json: bool, as_csv: bool) -> None:
    """Print saved themes."""
    from .topics import load_themes

    _show_themes(load_themes(_settings(ctx), name), by, plot, as_json, as_csv)


@cli.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--limit", "--top", "top", type=click.IntRange(1), default=20, show_default=True, help="Rows per list.")
@click.option("--json", "as_json", is_flag=True, help="JSON: every list, the sentence pairs, provenance.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one row per formulation (kind, term, a, b, g2).")
@click.pass_context
@_fail_cleanly
def diff_cmd(ctx: click.Context, a: str, b: str, top: int, as_json: bool, as_csv: bool) -> None:
    """What changed from A to B (提法): formulations new in B and dropped from A, words used more
    and less (log-likelihood), and sentences reworded, with the changed words marked
    [-removed-]{+added+}. A and B are speech ids (or unique prefixes) or selections.

    \b
    Examples:
      speechkit diff "year:2023 title:政府工作报告" "year:2024 title:政府工作报告"
      speechkit diff 3f2a9c 8b7d01
    A new formulation also shows where the whole corpus first has it."""
    from .corpus import Corpus
    from .diff import diff

    with _workspace(ctx) as ws, Corpus(ws) as corpus:
        result = diff(corpus, a, b, top=top, pairs=top)
    if _emit(result, as_json, as_csv):
        return
    data = result.to_json()
    if result.ranking.startswith("by count"):
        err.print("new formulations ranked " + result.ranking)
    out.print(f"A: {a} ({result.a.speeches} speeches, {result.a.words} words)   "
              f"B: {b} ({result.b.speeches} speeches, {result.b.words} words)")
    for kind, title in (("new", "new in B"), ("dropped", "dropped from A"), ("more", "more in B"),
                        ("less", "less in B")):
        rows = data[kind]
        if not rows:
            continue
        table = Table(title=title)
        for col in ("term", "A", "B", "G²") + (("first seen",) if kind == "new" else ()):
            table.add_column(col, justify="left" if col in ("term", "first seen") else "right")
        for r in rows:
            extra = ()
            if kind == "new":
                f = r.get("first_seen")
                extra = (f"{f['year']} {f['title'] or ''}"[:40] if f else "",)
            table.add_row(r["term"], str(r["a"]), str(r["b"]), f"{r['g2']:.1f}", *extra)
        out.print(table)
    if data["changed"]:
        table = Table(title="sentences reworded ([-A-]{+B+})")
        table.add_column("B, with the changes", overflow="fold")
        table.add_column("weight", justify="right")
        for c in data["changed"]:
            table.add_row(escape(c["marked"]), f"{c['weight']:.0f}")
        out.print(table)


@cli.command()
@click.argument("term")
@click.option("--by", type=click.Choice(["region", "city", "level"]), default="region", show_default=True,
              help="region: each province (each city when the selection is --level city); city: each "
                   "prefecture-level city; level: each administrative level.")
@_selection_options
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the adoption curve, with the centre's first use marked, to FILE.png.")
@_formats
@click.pass_context
@_fail_cleanly
def spread(ctx: click.Context, term: str, by: str, filters: list[Any], selection: str, plot: Path | None,
           as_json: bool, as_csv: bool) -> None:
    """Policy diffusion: the first speech of each region that uses TERM (exactly, as search
    finds it), the adoption curve (share of regions that had used it, by year), the regions
    that never did, and whether the centre led or followed (its first national use against
    the first local ones; national speeches are read from the whole corpus). Only speeches
    whose year is known count; the output says how many were left out.

    \b
      speechkit spread 河长制
      speechkit spread 营商环境 --level city --plot spread.png
      speechkit spread 最多跑一次 --by level --csv > adoption.csv
    """
    from .corpus import Corpus
    from .spread import spread as run

    with _workspace(ctx) as ws, Corpus(ws) as corpus:
        result = run(corpus, term, by=by, filters=filters)
    if plot:
        from .plots import plot_spread

        plot_spread(result, plot)
        err.print(f"chart written to {plot}")
    if _emit(result, as_json, as_csv):
        return
    unit = result.unit
    table = Table(title=f"first use of {term} in each {unit}" + (f" ({selection})" if selection else ""))
    for col in (unit, "year", "speeches", "first speech", "its region"):
        table.add_column(col, justify="right" if col in ("year", "speeches") else "left", overflow="fold")
    if result.national:
        n = result.national
        table.add_row("全国 (centre)", str(n["year"]), str(n["speeches"]), f"{n['title'] or ''} ({n['id']})", "")
    for f in result.first_uses:
        table.add_row(f.unit, str(f.year), str(f.speeches), f"{f.title or ''} ({f.id})", f.region or "")
    out.print(table)
    out.print(_spread_summary(result))


def _spread_summary(result: Any) -> str:
    """The lines under `spread`'s table: the centre, the curve's end, who never used it, who was left out."""
    unit = result.unit
    lines = [result.verdict()]
    if result.curve:
        last = result.curve[-1]
        lines.append(f"by {last['year']}: {last['adopted']} of {result.units} {unit}s with dated speeches "
                     f"({last['share']:.0%})")
    if result.never:
        lines.append(f"never used it: {'、'.join(result.never[:20])}" + (" …" if len(result.never) > 20 else ""))
    lines.append(f"{result.speeches} dated speeches read; left out: {result.undated} without a year, "
                 f"{result.unplaced} without a {unit}")
    return "\n".join(lines)


def _lag(value: str | None) -> tuple[int, int] | None:
    """--lag LO..HI as (lo, hi), a usage error when it is not one."""
    from .reuse import parse_lag

    try:
        return parse_lag(value)
    except SpeechkitError as exc:
        raise click.BadParameter(str(exc), param_hint="--lag") from None


@cli.command()
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--source", metavar="SEL", help="The source speeches: a selection ('level:national') or an id.")
@click.option("--target", metavar="SEL", help="The target speeches: a selection ('level:province') or an id.")
@click.option("--lag", metavar="LO..HI",
              help="Compare a target only with sources LO to HI years before it (0..1: the same year and the "
                   "one before). Speeches without a year are then left out, and counted.")
@click.option("--min-chars", type=click.IntRange(10, 1000), default=30, show_default=True,
              help="The shortest reused passage reported (every shared passage this long is found, "
                   "but for formulae more than 50 sources share).")
@click.option("--limit", "--top", "limit", type=click.IntRange(1), default=20, show_default=True,
              help="Targets shown in the table (--json and --csv hold them all).")
@click.option("--workers", type=click.IntRange(0), default=None, help="Worker processes (0 = one per core).")
@_engine_options
@_formats
@click.pass_context
@_fail_cleanly
def reuse(ctx: click.Context, a: str | None, b: str | None, source: str | None, target: str | None,
          lag: str | None, min_chars: int, limit: int, workers: int | None, engine: str | None,
          scheduler: str | None, as_json: bool, as_csv: bool) -> None:
    """Text reuse: the passages of the target speeches that reproduce passages of the source
    speeches, found exactly (every span shown occurs character for character in both texts),
    with the share of each target that is reused and a ranking of regions by reuse. A and B
    (source, then target) are speech ids or selections, or give --source and --target.

    \b
      speechkit reuse ID_NATIONAL ID_PROVINCIAL
      speechkit reuse --source 'level:national title:政府工作报告' --target 'level:province' --lag 0..1
    """
    from .corpus import Corpus
    from .reuse import reuse as run

    source, target = source or a, target or b
    if not (source and target) or (a and (source != a or target != b)):
        raise click.UsageError("give the source and the target: `speechkit reuse A B` or --source SEL --target SEL")
    with _progress("reuse") as progress, _workspace(ctx, workers=workers, engine=engine,
                                                     scheduler=scheduler) as ws, Corpus(ws) as corpus:
        result = run(corpus, source, target, lag=_lag(lag), min_chars=min_chars, progress=progress)
    if _emit(result, as_json, as_csv):
        return
    _print_reuse(result, limit)


def _print_reuse(result: Any, limit: int) -> None:
    if len(result.targets) == 1:
        t = result.targets[0]
        table = Table(title=f"{t.title or t.id}: {t.share:.1%} reused ({t.reused_chars} of {t.chars} characters)")
        for col in ("target", "source", "passage"):
            table.add_column(col, overflow="fold")
        for s in t.spans:
            table.add_row(f"{s.target_start}–{s.target_end}", f"{s.source} {s.source_start}–{s.source_end}",
                          escape(s.text))
        out.print(table)
    else:
        table = Table(title=f"reuse of {result.source} in {result.target}"
                            + (f", lag {result.lag[0]}..{result.lag[1]}" if result.lag else ""))
        for col in ("id", "year", "region", "title", "reused", "spans", "longest passage"):
            table.add_column(col, overflow="fold", justify="right" if col in ("year", "reused", "spans") else "left")
        for t in result.targets[:limit]:
            longest = max(t.spans, key=lambda s: s.target_end - s.target_start).text if t.spans else ""
            table.add_row(t.id, str(t.year or ""), t.region or "", t.title or "", f"{t.share:.1%}",
                          str(len(t.spans)), escape(longest[:60] + ("…" if len(longest) > 60 else "")))
        out.print(table)
        regions = Table(title="regions by mean share reused")
        for col in ("region", "speeches", "mean", "max"):
            regions.add_column(col, justify="left" if col == "region" else "right")
        for r in result.regions[:limit]:
            regions.add_row(r["region"], str(r["speeches"]), f"{r['mean_share']:.1%}", f"{r['max_share']:.1%}")
        out.print(regions)
    err.print(f"{result.sources} source and {len(result.targets)} target speeches; passages of at least "
              f"{result.min_chars} characters" + (f"; {result.left_out} without a year left out" if result.lag else ""))


@cli.command()
@click.argument("doc_id")
@click.option("--limit", "--top", "limit", type=click.IntRange(1), default=10, show_default=True)
@_selection_options
@_formats
@click.pass_context
@_fail_cleanly
def similar(ctx: click.Context, doc_id: str, limit: int, filters: list[Any], selection: str, as_json: bool,
            as_csv: bool) -> None:
    """Speeches most similar to DOC_ID (cosine on TF-IDF), leaving out its own near-duplicates;
    the selection flags restrict where to look (e.g. --level city)."""
    from .clusters import similar as run
    from .corpus import Corpus

    with _workspace(ctx) as ws, Corpus(ws) as corpus:
        result = run(corpus, doc_id, limit=limit, filters=filters)
    if _emit(result, as_json, as_csv):
        return
    table = Table(title=f"similar to {result.id} {result.title or ''}")
    for col in ("id", "year", "region", "title", "cosine"):
        table.add_column(col)
    for r in result.similar:
        table.add_row(r["id"], str(r["year"] or ""), r["region"] or "", r["title"] or "", f"{r['score']:.3f}")
    out.print(table)


def main() -> None:
    cli(prog_name="speechkit")


if __name__ == "__main__":
    main()
