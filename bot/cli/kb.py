"""``supportbot kb ...``: validate, build, tune, search, eval and calibrate the FAQ index."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli.errors import EXIT_ERROR, EXIT_OK, CliError
from bot.kb.evidence import SIGNALS
from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    kb = sub.add_parser("kb", help="FAQ corpus and index").add_subparsers(dest="kb_command", required=True)
    v = kb.add_parser("validate", help="check the FAQ corpus")
    _paths(v)
    v.add_argument("--near-duplicate", type=float, default=0.92, metavar="COSINE",
                   help="warn when phrasings of two entries are this similar (default 0.92)")
    v.add_argument("--misplaced-margin", type=float, default=0.2, metavar="SCORE",
                   help="warn when another entry scores a phrasing this much above its own entry "
                        "(default 0.2)")
    v.add_argument("--no-embed", action="store_true",
                   help="skip the checks that need the encoder (near-duplicates, misplaced phrasings)")
    v.set_defaults(handler=cmd_validate)

    b = kb.add_parser("build", help="embed the corpus and publish a new index version")
    _paths(b)
    b.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    b.add_argument("--no-calibrate", action="store_true", help="keep default thresholds")
    _scoring_flags(b)
    b.set_defaults(handler=cmd_build)

    t = kb.add_parser("tune", help="adapt the encoder to the FAQ corpus, then rebuild the index with it")
    _paths(t)
    t.add_argument("--epochs", type=int, default=None,
                   help="passes over the phrasings (default: enough for 48 steps, at least one)")
    t.add_argument("--batch-size", type=int, default=64, help="pairs per step (default 64)")
    t.add_argument("--seed", type=int, default=13, help="same seed, same corpus: same model")
    t.add_argument("--no-hold-out", action="store_true",
                   help="train on every phrasing; by default one alternate per entry with 3+ "
                        "phrasings is kept out of training so corpus-only calibration is honest "
                        "(use this when you calibrate with 'kb calibrate --queries')")
    t.add_argument("--force", action="store_true",
                   help="train again even if a model for these phrasings exists")
    t.add_argument("--no-build", action="store_true",
                   help="only train; the next 'kb build' indexes with the tuned model")
    _scoring_flags(t)
    t.set_defaults(handler=cmd_tune)

    s = kb.add_parser("search", help="what would the bot answer?")
    _paths(s, corpus=False)
    s.add_argument("text")
    s.add_argument("-k", type=int, default=5, help="entries to show")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_search)

    e = kb.add_parser("eval", help="measure answer quality on labelled queries")
    _paths(e, corpus=False)
    e.add_argument("--queries", type=Path, required=True, help="CSV with query,expected_id")
    e.add_argument("--json", action="store_true")
    e.add_argument("--errors", type=int, default=0, metavar="N", help="list N wrong answers")
    e.set_defaults(handler=cmd_eval)

    c = kb.add_parser("calibrate", help="choose thresholds for the serving index version")
    _paths(c, corpus=False)
    _target_flag(c)
    c.add_argument("--oos-share", type=float, default=0.25,
                   help="share of out-of-scope traffic assumed (default 0.25)")
    source = c.add_mutually_exclusive_group()
    source.add_argument("--queries", type=Path,
                        help="calibrate on this labelled CSV (a validation split, never the test set)")
    source.add_argument("--from-traffic", action="store_true",
                        help="calibrate on real questions labelled in the inbox (alternates, not ours) and by "
                             "customers' votes, with the corpus while they are few; reports promised vs "
                             "measured precision (docs/editors.md)")
    c.add_argument("--min-labels", type=int, metavar="N",
                   help="with --from-traffic: usable labelled questions needed (default "
                        "SUPPORTBOT_TRAFFIC_MIN_LABELS, 30)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_calibrate)


def _paths(parser: argparse.ArgumentParser, corpus: bool = True) -> None:
    if corpus:
        parser.add_argument("--corpus", type=Path, help="FAQ file or folder (default: data/faq/)")
    parser.add_argument("--index", type=Path, help="index folder (default: kb_index/)")


def _target_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target-precision", type=float,
                   help="share of answers that should be right (default SUPPORTBOT_TARGET_PRECISION, 0.95)")


def _scoring_flags(p: argparse.ArgumentParser) -> None:
    """How the built version scores and calibrates; unset flags take the settings' values."""
    _target_flag(p)
    for s in SIGNALS:
        p.add_argument(s.flag, dest=s.key, type=float, help=f"{s.help} (default {s.setting}, {s.default:g})")


def _overrides(args: argparse.Namespace) -> dict[str, float | None]:
    return {"target_precision": args.target_precision, **{s.key: getattr(args, s.key) for s in SIGNALS}}


def _index(args: argparse.Namespace, settings: Settings) -> Path:
    return args.index or settings.index_path


def _corpus_path(args: argparse.Namespace, settings: Settings) -> Path:
    return getattr(args, "corpus", None) or settings.corpus_path


def encoder(settings: Settings):
    """The base model (tests replace it with a fake)."""
    from bot.kb.ops import base_encoder

    return _ops(base_encoder, settings)


def _ops(call, *args, **kwargs):
    """Run an operation; its errors become CliError."""
    from bot.kb.ops import KbOpsError

    try:
        return call(*args, **kwargs)
    except KbOpsError as exc:
        raise CliError(str(exc)) from exc


def _version(index: Path):
    from bot.kb.index import KbIndexError
    from bot.kb.ops import load_current

    try:
        return load_current(index)
    except KbIndexError as exc:
        raise CliError(str(exc)) from exc


def _version_encoder(version, settings: Settings, served: bool = False):
    """The model the version was built with: its tuned model, else the base model; ``served``:
    through SUPPORTBOT_ENCODER_BACKEND, as the action server encodes messages (kb search, kb eval)."""
    from bot.kb.encoder import EncoderError
    from bot.kb.index import KbIndexError
    from bot.kb.models import version_encoder

    try:
        return version_encoder(version, None if version.model_path else encoder(settings),
                               backend=settings.encoder_backend if served else None)
    except (KbIndexError, EncoderError) as exc:
        raise CliError(str(exc)) from exc


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb.corpus import load_corpus
    from bot.kb.validate import check_options, embedding_issues

    options = {"near_duplicate": args.near_duplicate, "misplaced_margin": args.misplaced_margin,
               "answer_weight": settings.answer_weight}
    try:
        check_options(**options)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    corpus = load_corpus(_corpus_path(args, settings), strict=False)
    if not corpus.errors and corpus.entries and not args.no_embed:
        corpus.issues.extend(embedding_issues(corpus, encoder(settings), index_dir=_index(args, settings),
                                              **options))
    for issue in corpus.issues:
        print(issue, file=sys.stderr)
    n_phr = sum(len(e.phrasings) for e in corpus.entries)
    print(f"{len(corpus.files)} file(s), {len(corpus.entries)} entries, {n_phr} phrasings: "
          f"{len(corpus.errors)} error(s), {len(corpus.warnings)} warning(s)")
    return EXIT_ERROR if corpus.errors else EXIT_OK


def _print_built(built) -> None:
    for note in built.warnings:
        print(f"warning: {note}", file=sys.stderr)
    print(built.summary())


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb import ops
    from bot.kb.shared import build_once  # several nodes: once, under a lock, for all of them

    corpus = _ops(ops.read_corpus, _corpus_path(args, settings), "the build stopped; " + ops.UNCHANGED)
    for issue in corpus.warnings:
        print(issue, file=sys.stderr)
    _print_built(_ops(build_once, settings, corpus, _index(args, settings), force=args.force,
                      calibrate=not args.no_calibrate, progress=sys.stderr.isatty(),
                      encoder=encoder(settings), **_overrides(args)))
    return EXIT_OK


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb import ops
    from bot.kb.tune import TuneError, TuneOptions

    corpus = _ops(ops.read_corpus, _corpus_path(args, settings), "nothing was tuned; " + ops.UNCHANGED)
    try:
        options = TuneOptions(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                              hold_out=not args.no_hold_out)
    except TuneError as exc:
        raise CliError(str(exc)) from exc
    tuned = _ops(ops.tune_corpus, settings, corpus, _index(args, settings), options, force=args.force,
                 build=not args.no_build, progress=sys.stderr.isatty(), say=print, **_overrides(args))
    if tuned.up_to_date and tuned.path is not None:
        print(f"the tuned model {tuned.path.name} already fits these phrasings (trained "
              f"{tuned.manifest['trained_at']}); --force trains again")
    if tuned.built is not None:
        _print_built(tuned.built)
    return EXIT_OK


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb.decision import decide
    from bot.kb.evaluate import search_and_decline

    version = _version(_index(args, settings))
    served = _version_encoder(version, settings, served=True)
    [hits], [declined] = search_and_decline(version, served, [args.text], settings.search_k,
                                            settings.max_query_chars)
    decision = decide(hits, version.thresholds, version.overrides, declined, args.text)
    if args.json:
        print(json.dumps({"index": version.name, **decision.to_json()}, indent=2))
        return EXIT_OK
    for rank, hit in enumerate(hits[: args.k], 1):
        print(f"{rank}. {hit.score:.3f}  {hit.entry_id:<28} via {hit.phrasing!r}")
    t = decision.thresholds
    print(f"\ndecision: {decision.kind.upper()} ({decision.reason}); thresholds answer {t.answer}, "
          f"margin {t.margin}, clarify {t.clarify} [{t.source}]")
    if decision.entry_id:
        print("\n" + version.by_id[decision.entry_id].answer)
    for o in decision.options:
        print(f"  did you mean: {version.by_id[o.entry_id].question}  ({o.entry_id})")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb.evaluate import evaluate
    from bot.kb.ops import check_queries

    version = _version(_index(args, settings))
    queries = _ops(check_queries, args.queries, version)
    report, decisions = evaluate(version, _version_encoder(version, settings, served=True), queries,
                                 k=settings.search_k)
    report = {**report, "index": version.name, "thresholds": version.thresholds.to_json()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            if key != "thresholds":
                print(f"{key:>20}: {value}")
        print(f"{'thresholds':>20}: {version.thresholds.to_json()}")
    wrong = [(q, d) for q, d in zip(queries, decisions) if d.kind == "answer" and d.entry_id != q.expected]
    for q, d in wrong[: args.errors]:
        print(f"wrong: line {q.line} {q.text!r}: expected {q.expected or 'none'}, "
              f"answered {d.entry_id} ({d.top.score if d.top else 0:.3f})", file=sys.stderr)
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb.evaluate import QueryFileError
    from bot.kb.index import current_path
    from bot.kb.ops import calibrate_version, read_out_of_scope

    index = _index(args, settings)
    target = settings.target_precision if args.target_precision is None else args.target_precision
    if args.min_labels is not None and not args.from_traffic:
        raise CliError("--min-labels goes with --from-traffic")
    version = _version(index)  # a clear error when there is no index
    examples = _ops(read_out_of_scope, settings, "the thresholds are unchanged")
    if args.from_traffic:
        from bot.cli.kb_traffic import calibrate_from_traffic

        return calibrate_from_traffic(args, settings, index, version, _version_encoder(version, settings),
                                      target, examples)
    try:
        thresholds, report = calibrate_version(
            current_path(index), _version_encoder(version, settings), index, queries=args.queries,
            target_precision=target, oos_share=args.oos_share, out_of_scope=examples)
    except (QueryFileError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"thresholds: answer {thresholds.answer}, margin {thresholds.margin}, "
              f"clarify {thresholds.clarify}")
        print(f"estimated precision {report['estimated_precision']}, in-scope accuracy "
              f"{report['estimated_in_scope_accuracy']} on {report['samples_in_scope']} in-scope and "
              f"{report['samples_out_of_scope']} out-of-scope samples")
        if not report["target_reached"]:
            print(f"warning: the target precision {target} cannot be reached; the setting with the best "
                  "F0.5 (precision weighted over coverage) was kept", file=sys.stderr)
    return EXIT_OK
