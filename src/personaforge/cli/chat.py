"""`personaforge chat`: talk to the running server from the terminal."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from personaforge.cli.app import app, examples, get_state
from personaforge.errors import UserError
from personaforge.ui import stdout


@app.command(
    epilog=examples(
        "personaforge chat",
        "personaforge chat --sources        # after each answer, the memories and facts it was given",
        "personaforge chat --model persona-raw   # the adapter alone, no retrieval",
        "personaforge chat --model work",
        "personaforge chat --temperature 0   # greedy: the same answer every time",
        "personaforge --set decode.repetition_penalty=1.3 chat",
    )
)
def chat(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="Model name on the server.")] = "persona",
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:7373",
    max_tokens: Annotated[int, typer.Option(help="Tokens per reply.")] = 256,
    temperature: Annotated[
        float | None,
        typer.Option(min=0, max=2, help="Sampling temperature; default: decode.temperature."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed every reply (repeatable answers); default: none.")
    ] = None,
    sources: Annotated[
        bool,
        typer.Option(
            "--sources", help="Print which memories and profile facts each answer was given."
        ),
    ] = False,
) -> None:
    """Talk to the persona in the terminal (Ctrl-D or /quit to leave).

    `persona` answers are grounded in your memory store and profile when the server has them
    (docs/serve.md); `persona-raw` is the same adapter without them. Replies are decoded with
    this home's settings `decode` (temperature, top-p, penalties), sent with every request, so
    any OpenAI-compatible server that takes them decodes alike.
    """
    from personaforge.serve.app import SOURCES_HEADER

    openai = __import__("openai")
    decoding = get_state(ctx).loaded.settings.decode
    sampling = {
        "temperature": decoding.temperature if temperature is None else temperature,
        "top_p": decoding.top_p,
        "frequency_penalty": decoding.frequency_penalty,
        "presence_penalty": decoding.presence_penalty,
        "extra_body": {"repetition_penalty": decoding.repetition_penalty},
        **({} if seed is None else {"seed": seed}),
    }
    client = openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key="local")
    history: list[dict[str, str]] = []
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if line in ("/quit", "/exit"):
            break
        if not line:
            continue
        history.append({"role": "user", "content": line})
        try:
            response = client.chat.completions.with_raw_response.create(
                model=model, messages=history, max_tokens=max_tokens, stream=True, **sampling
            )
            reply = ""
            stdout.print(f"{model}> ", end="")
            for chunk in response.parse():
                piece = chunk.choices[0].delta.content or "" if chunk.choices else ""
                reply += piece
                stdout.print(piece, end="", markup=False)
            stdout.print()
        except openai.APIConnectionError:
            raise UserError(f"no server at {url}; start one with `personaforge serve`") from None
        except openai.APIStatusError as exc:
            raise UserError(f"{url}: {exc.message}") from None
        if sources:
            print_sources(response.headers.get(SOURCES_HEADER))
        history.append({"role": "assistant", "content": reply})


def print_sources(header: str | None) -> None:
    """The memories and facts an answer was given, from the server's sources header."""
    if header is None:
        stdout.print("  [dim](not grounded: no memories were given with this answer)[/]")
        return
    given = json.loads(header)
    for fact in given.get("facts", []):
        stdout.print(
            f"  [dim]fact[/] {escape(fact['label'])}: {escape(fact['value'])}", soft_wrap=True
        )
    for memory in given.get("memories", []):
        stdout.print(
            f"  [dim]memory[/] {memory['date']} {memory['source']} "
            f"{escape(memory['title'])} ({memory['id']})",
            soft_wrap=True,
        )
    if not given.get("facts") and not given.get("memories"):
        stdout.print("  [dim](retrieval found nothing for this question)[/]")
