"""`personaforge serve`: the OpenAI-compatible server (`reload` and `chat` are its clients)."""

from __future__ import annotations

from typing import Annotated

import typer

from personaforge.cli.app import app, examples, get_state
from personaforge.errors import UserError
from personaforge.ui import console


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
