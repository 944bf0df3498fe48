"""`personaforge serve`, `reload` and `chat`: the OpenAI-compatible server and its clients."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from personaforge.cli.app import app, examples, get_state
from personaforge.errors import UserError
from personaforge.ui import console, stdout


@app.command(
    epilog=examples(
        "personaforge serve",
        "personaforge serve --port 8000 --adapter work=v3 --adapter home=v5",
        "personaforge serve --host 0.0.0.0 --api-key $(openssl rand -hex 16)",
        "personaforge serve --max-batch 1 --no-access-log",
    )
)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to listen on; anything but loopback needs --api-key.")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="TCP port.")] = 7373,
    adapter: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=vN", help="Also serve version vN as model NAME; repeatable."),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Require this bearer key on /v1 requests.")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="local (transformers + PEFT in this process) or vllm (forward to a vLLM server)."
        ),
    ] = "local",
    vllm_url: Annotated[
        str, typer.Option(help="The vLLM server, for --engine vllm.")
    ] = "http://127.0.0.1:8000",
    vllm_base: Annotated[
        str | None,
        typer.Option(help="The model id vLLM serves the base under; default: the adapters' base."),
    ] = None,
    max_batch: Annotated[
        int,
        typer.Option(
            min=1,
            help="Local engine: requests generated together in one batch (1 = one at a time).",
        ),
    ] = 8,
    max_queue: Annotated[
        int, typer.Option(min=1, help="Local engine: requests waiting beyond that get 429.")
    ] = 32,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Also print the access log to stderr (it is always written to logs/serve-access.log)."
        ),
    ] = True,
) -> None:
    """Serve the base, the current persona and named adapters on an OpenAI-compatible API."""
    import uvicorn

    from personaforge.serve import AcceleratorGuard, build_engine, build_retriever, check_bind
    from personaforge.serve.app import create_app
    from personaforge.serve.guard import access_log_path, server_access_log, token_path

    if engine not in ("local", "vllm"):
        raise UserError(f"unknown engine '{engine}'; choose local or vllm")
    named = {}
    for item in adapter or []:
        name, _, version = item.partition("=")
        if not name or not version:
            raise UserError(f"--adapter takes NAME=vN, got '{item}'")
        named[name] = version
    check_bind(host, api_key)
    paths = get_state(ctx).paths
    decoding = get_state(ctx).loaded.settings.decode  # what a request leaves out
    log = server_access_log(paths, to_stderr=access_log)
    where = f"admin token in {token_path(paths)}, access log in {access_log_path(paths)}"
    # uvicorn's own access log stays off: ours has the route, the model and escaped fields.
    options = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    try:
        if engine == "vllm":
            from personaforge.serve import build_vllm

            api = build_vllm(
                paths, vllm_url, vllm_base, named, api_key, access_log=log, decoding=decoding
            )
            console.print(
                f"serving through vLLM at {vllm_url} on http://{host}:{port}/v1 ({where})"
            )
            uvicorn.run(api, **options)
            return
        local = build_engine(paths, named, max_queue=max_queue, max_batch=max_batch)
        guard = AcceleratorGuard(paths, local)
        retriever, prompt = build_retriever(paths, get_state(ctx).loaded.settings, local)
        api = create_app(
            local,
            paths,
            api_key,
            access_log=log,
            decoding=decoding,
            retriever=retriever,
            persona_prompt=prompt,
        )
        console.print(f"serving {', '.join(local.models())} on http://{host}:{port}/v1 ({where})")
        console.print(grounding_line(retriever, paths))
        try:
            uvicorn.run(api, **options)
        finally:
            guard.stop()
            local.close()
            if retriever is not None:
                retriever.close()
    finally:
        log.close()


def grounding_line(retriever, paths) -> str:
    """What `persona` answers are grounded in, as serve prints it at start."""
    if retriever is None:
        why = (
            "no memory store yet" if not paths.memory_store.is_file() else "serve.retrieval is off"
        )
        return f"answers are not grounded ({why}): persona answers from its adapter alone"
    facts = (
        "and USER_PROFILE.json's current facts"
        if retriever.profile_path and retriever.profile_path.is_file()
        else "(no USER_PROFILE.json yet: memories only)"
    )
    return (
        f"persona answers are grounded in {paths.memory_store.name} {facts}; "
        'model persona-raw or "retrieval": false turns it off'
    )


@app.command(
    epilog=examples("personaforge reload v4", "personaforge reload v4 --url http://127.0.0.1:8000")
)
def reload(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to serve as `persona`.")],
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:7373",
) -> None:
    """Swap the running server's persona to another version without a restart."""
    from personaforge.serve.client import admin_post

    result = admin_post(get_state(ctx).paths, url, "/admin/reload-model", {"version": version})
    console.print(f"persona is now {result['persona']} (loaded: {', '.join(result['loaded'])})")


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
