"""The `speechkit` command: parse flags, call one library function, render the result.

Library errors become one-line messages that say what to do next; no tracebacks.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import SpeechkitError
from .settings import Settings, load_settings

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
            sys.exit(130)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="SPEECHKIT_HOME",
              help="Workspace: store in DIR/corpus/speechkit.db, indexes in DIR/indexes/. "
                   "Default: $SPEECHKIT_HOME or the current directory.")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
@click.version_option(__version__, prog_name="speechkit")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, verbose: int) -> None:
    """Clean, index and analyse scraped Chinese political speeches.

    \b
    Typical run:
      speechkit ingest corpus/raw        # clean, split, date and de-duplicate
      speechkit stats                    # what is in the store
      speechkit show ID                  # one speech with its metadata and evidence
      speechkit export --format csv      # one row per speech
    """
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"home": home}


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj["home"], **overrides)
    except SpeechkitError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS",
              help="Map a JSONL/CSV column to a speechkit field, e.g. --field text=content_html "
                   "--field date=pubtime (fields: text, title, date, url, site, id, speaker, region, level).")
@click.option("--prune", is_flag=True, help="Remove stored speeches whose files are gone.")
@click.option("--strict", is_flag=True, help="Exit non-zero if any file or record was skipped.")
@click.option("--workers", type=click.IntRange(0), default=None, help="Worker processes (0 = one per core).")
@click.pass_context
@_fail_cleanly
def ingest(ctx: click.Context, paths: tuple[str, ...], fields: tuple[str, ...], prune: bool,
           strict: bool, workers: int | None) -> None:
    """Ingest files, folders, globs or .gz into the corpus store.

    Reads .txt/.md (front matter as metadata), .html (visible main text) and .jsonl/.csv
    crawler dumps. Unchanged files are skipped, so re-running is cheap and resumes an
    interrupted run. Bad files are reported and skipped.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .ingest import ingest as run
    from .sources import parse_field_map

    settings = _settings(ctx, workers=workers)
    field_map = parse_field_map(fields)
    with Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(path).name[-40:])

        report = run(paths, settings, field_map=field_map, prune=prune, progress=progress)
    table = Table(title=f"ingest → {settings.store_path}", show_header=False)
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
@_fail_cleanly
def clean(file: Path, explain: bool) -> None:
    """Clean one file and print the result (nothing is stored).

    With --explain, each step that changed the text is listed with what it removed (-) and
    added (+), before the cleaned text.
    """
    from .clean import clean_text
    from .decode import decode_bytes
    from .sources import read_bytes, split_front_matter

    decoded = decode_bytes(read_bytes(file))
    text, kind = decoded.text, "text"
    if file.suffix.lower() in (".md", ".markdown") or text.startswith("---\n"):
        _, text = split_front_matter(text.replace("\r\n", "\n"))
        kind = "markdown"
    result = clean_text(text, kind=kind, explain=explain)
    if explain:
        err.print(f"[bold]{file}[/] decoded as {decoded.encoding}" + (" (lossy)" if decoded.lossy else ""))
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
@click.argument("doc_id")
@click.option("--original", is_flag=True, help="Print the text as decoded, before cleaning.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every field.")
@click.pass_context
@_fail_cleanly
def show(ctx: click.Context, doc_id: str, original: bool, as_json: bool) -> None:
    """Show one speech: metadata with evidence, flags, cleaning steps, text. A unique id
    prefix is enough."""
    from .store import Store

    with Store(_settings(ctx).store_path, create=False) as store:
        doc = store.get(doc_id)
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
    click.echo(doc.original if original else doc.text)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable counts.")
@click.pass_context
@_fail_cleanly
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of canonical speeches per year, level, site and flag, plus skipped inputs."""
    from .report import corpus_stats

    result = corpus_stats(_settings(ctx))
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
    for path, record, why in result["problems"][:30]:
        click.echo(f"skipped {path}{' ' + record if record else ''}: {why}", err=True)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--all", "include_all", is_flag=True, help="Include non-canonical near-duplicate copies.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@click.pass_context
@_fail_cleanly
def export(ctx: click.Context, fmt: str, include_all: bool, output: Path | None) -> None:
    """Export one record per speech (canonical copies unless --all)."""
    from .store import Store

    with Store(_settings(ctx).store_path, create=False) as store:
        docs = store.documents(canonical_only=not include_all)
        fh = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            if fmt == "csv":
                writer = csv.DictWriter(fh, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
                writer.writeheader()
                for doc in docs:
                    row = doc.to_record()
                    row["flags"] = ";".join(row["flags"])
                    writer.writerow(row)
            else:
                for doc in docs:
                    row = {k: v for k, v in doc.to_record().items() if k in EXPORT_FIELDS}
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        finally:
            if output:
                fh.close()


_LEXICON = click.option("--lexicon", type=click.Path(exists=True, dir_okay=False), envvar="SPEECHKIT_LEXICON",
                        help="Your own lexicon (one term per line, optional frequency), used with the shipped one.")


def _filters_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--year", help="Year or range: 2020, 2019..2023, ..2012, 2015.."),
        click.option("--speaker", help="Speaker role or name contains this (县委书记, 李克强)."),
        click.option("--level", help="national, province, city, county, district or township."),
        click.option("--site", help="Source site contains this (gov.cn)."),
        click.option("--region", help="Region contains this (安徽)."),
    ]):
        fn = opt(fn)
    return fn


@cli.command()
@click.option("--rebuild", is_flag=True, help="Build from scratch instead of adding what changed.")
@_LEXICON
@click.option("--workers", type=click.IntRange(0), default=None, help="Segmentation processes (0 = one per core).")
@click.pass_context
@_fail_cleanly
def index(ctx: click.Context, rebuild: bool, lexicon: str | None, workers: int | None) -> None:
    """Build or update the search index from the store's canonical speeches.

    Only new, changed and removed speeches are written; tokens are cached in the store, so
    unchanged speeches are never segmented again. An interrupted build leaves the previous
    index usable.
    """
    from .index import build_index

    settings = _settings(ctx, workers=workers)
    report = build_index(settings, rebuild=rebuild, user_lexicon=lexicon)
    err.print(f"index {'rebuilt' if report.rebuilt else 'updated'} in {report.seconds:.1f}s: "
              f"{report.added} added, {report.updated} updated, {report.removed} removed, "
              f"{report.unchanged} unchanged ({report.segmented} segmented)")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS", help="As for `ingest`.")
@click.option("--prune", is_flag=True, help="Remove speeches whose files are gone.")
@_LEXICON
@click.option("--workers", type=click.IntRange(0), default=None, help="Worker processes (0 = one per core).")
@click.pass_context
@_fail_cleanly
def update(ctx: click.Context, paths: tuple[str, ...], fields: tuple[str, ...], prune: bool,
           lexicon: str | None, workers: int | None) -> None:
    """Ingest PATHS and bring the index up to date: the bulk re-indexing path."""
    ctx.invoke(ingest, paths=paths, fields=fields, prune=prune, strict=False, workers=workers)
    ctx.invoke(index, rebuild=False, lexicon=lexicon, workers=workers)


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
@_filters_options
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--sort", type=click.Choice(["score", "date"]), default="score", show_default=True)
@click.option("--passages", type=click.IntRange(0, 10), default=3, show_default=True,
              help="Highlighted passages per hit.")
@click.option("--json", "as_json", is_flag=True, help="JSON: total, parsed query, hits with passages and offsets.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one row per hit.")
@_LEXICON
@click.pass_context
@_fail_cleanly
def search(ctx: click.Context, query: str, year: str | None, speaker: str | None, level: str | None,
           site: str | None, region: str | None, limit: int, offset: int, sort: str, passages: int,
           as_json: bool, as_csv: bool, lexicon: str | None) -> None:
    """Find speeches: words, "quoted phrases", AND/OR/NOT, ( ), and filters
    year:2019..2023 speaker:县委书记 level:county site:… region:… title:….

    An unquoted Chinese word is a phrase, never split into its parts. The hits are exactly
    the speeches containing it (the total is exact); they are ranked by BM25F.
    """
    from .search import Searcher, cli_filters

    settings = _settings(ctx)
    with Searcher(settings, user_lexicon=lexicon) as s:
        result = s.search(query, filters=cli_filters(year, speaker, level, site, region), limit=limit,
                          offset=offset, sort=sort, passages=0 if as_csv else passages)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["rank", "id", "title", "date", "year", "speaker_role", "speaker_name", "level", "site",
                         "score", "occurrences", "total", "query"])
        for rank, h in enumerate(result.hits, start=offset + 1):
            writer.writerow([rank, h.id, h.title, h.date, h.year, h.speaker_role, h.speaker_name, h.level,
                             h.site, h.score, h.occurrences, result.total, result.parsed])
        return
    table = Table(title=f"{result.total} speeches match {result.parsed}"
                        + (f" — showing {offset + 1}–{offset + len(result.hits)}" if result.hits else ""))
    for col in ("id", "title / passages", "date", "speaker", "score"):
        table.add_column(col, overflow="fold")
    for h in result.hits:
        body = (h.title or "(untitled)") + "".join("\n" + _render_passage(p) for p in h.passages)
        table.add_row(h.id, body, h.date or "", " ".join(x for x in (h.speaker_role, h.speaker_name) if x),
                      f"{h.score:.2f} ({h.occurrences}×)")
    out.print(table)


@cli.command()
@click.argument("term")
@click.option("--width", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Characters of context each side.")
@click.option("--sort", type=click.Choice(["left", "right", "date"]), default="date", show_default=True)
@_filters_options
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many lines.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: left, keyword, right, id, date, title, offset.")
@_LEXICON
@click.pass_context
@_fail_cleanly
def kwic(ctx: click.Context, term: str, width: int, sort: str, year: str | None, speaker: str | None,
         level: str | None, site: str | None, region: str | None, limit: int | None, as_csv: bool,
         lexicon: str | None) -> None:
    """Concordance: every occurrence of TERM in the canonical speeches, with context."""
    from .search import Searcher, cli_filters

    with Searcher(_settings(ctx), user_lexicon=lexicon) as s:
        lines = s.kwic(term, width=width, sort=sort, filters=cli_filters(year, speaker, level, site, region),
                       limit=limit)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=["left", "keyword", "right", "id", "date", "title", "offset"])
        writer.writeheader()
        writer.writerows(lines)
        return
    table = Table(title=f"{len(lines)} occurrences of {term}")
    table.add_column("left", justify="right", no_wrap=True)
    table.add_column("keyword", style="bold red", no_wrap=True)
    table.add_column("right", no_wrap=True)
    table.add_column("id")
    table.add_column("date")
    for line in lines:
        table.add_row(line["left"], line["keyword"], line["right"], line["id"], line["date"] or "")
    out.print(table)


@cli.command()
@click.argument("query")
@click.option("--doc", "doc_id", help="Explain this speech (matched or not) instead of a sample.")
@_LEXICON
@click.pass_context
@_fail_cleanly
def explain(ctx: click.Context, query: str, doc_id: str | None, lexicon: str | None) -> None:
    """Show how QUERY is parsed and segmented, which lexicon entries apply, and why a speech
    matches (where the phrase was found, and how the text around it was segmented)."""
    from .search import Searcher

    with Searcher(_settings(ctx), user_lexicon=lexicon) as s:
        click.echo(json.dumps(s.explain(query, doc_id=doc_id), ensure_ascii=False, indent=2))


def main() -> None:
    cli(prog_name="speechkit")


if __name__ == "__main__":
    main()
