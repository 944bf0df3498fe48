"""`personaforge blindtest`: which one is you? The person against the persona, blind."""

from __future__ import annotations

from typing import Annotated

import typer

from personaforge.cli.app import app, examples, get_state
from personaforge.errors import UserError
from personaforge.ui import stdout


@app.command(
    epilog=examples(
        "personaforge blindtest                 # the current version, both kinds of pair",
        "personaforge blindtest v2 --kind real  # only your real replies against the persona",
        "personaforge blindtest --pairs 10",
        "personaforge blindtest --results       # the accuracy so far, asking nothing",
    )
)
def blindtest(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(help="Version whose gate answers to use; default: current.")
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="real (your held-out reply vs the persona), base (persona vs base) or both."
        ),
    ] = "both",
    pairs: Annotated[int, typer.Option(min=1, help="Pairs to ask this session.")] = 20,
    results: Annotated[
        bool, typer.Option("--results", help="Only print the accuracy so far.")
    ] = False,
) -> None:
    """Two answers to one of your held-out prompts, in random order: which one is you?

    Pairs come from the version's gate evaluation (the same decoded answers the voice and
    looping checks read). Picks are kept in the home (blindtest/answers.jsonl); a pair
    already answered is not asked again. Ends with the accuracy per kind and its 95%
    interval: near 50% on real-vs-persona means you could not tell.
    """
    from personaforge.blindtest import KINDS, blind_pairs, read_answers, record, summary
    from personaforge.registry import Registry

    paths = get_state(ctx).paths
    if version is None:
        with Registry.open(paths) as registry:
            version = registry.current()
        if version is None:
            raise UserError("no promoted version; name one: personaforge blindtest v1")
    kinds = tuple(KINDS) if kind == "both" else (kind,)
    if not results:
        done = {a.get("pair") for a in read_answers(paths)}
        waiting = [p for p in blind_pairs(paths, version, kinds) if p.id not in done][:pairs]
        if not waiting:
            stdout.print(f"every pair of {version} is answered; the results:")
        for number, pair in enumerate(waiting, 1):
            stdout.rule(f"{number}/{len(waiting)}", align="left")
            stdout.print(f"[bold]prompt:[/] {pair.prompt}", soft_wrap=True, highlight=False)
            stdout.print(f"\n[bold]A:[/] {pair.a}\n\n[bold]B:[/] {pair.b}\n", soft_wrap=True)
            picked = _ask()
            if picked == "q":
                break
            if picked == "s":
                continue
            record(paths, pair, picked)  # which was which stays hidden until the results
    stdout.rule(f"[bold]blind test of {version}[/]", align="left")
    for item in summary(paths, version):
        stdout.print(f"  {item.line()}", markup=False, soft_wrap=True)


def _ask() -> str:
    while True:
        try:
            line = input("Which one is you? [a/b, s to skip, q to stop] ").strip().lower()
        except EOFError:
            return "q"
        if line in ("a", "b", "s", "q"):
            return line
