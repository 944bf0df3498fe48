"""Schemathesis over the live server's /openapi.json: no 5xx, errors in the OpenAI shape, responses as documented.

The fast part runs a bounded number of examples per operation in `make test`, with
`max_tokens` narrowed to 16 so a generated request costs milliseconds on the micro
base. The slow part (`-m slow`, `make test-full`) runs many more on the schema as
served, long generations included.
"""

from __future__ import annotations

import copy
import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from personaforge.serve import start_server

FAST_EXAMPLES = 12
SLOW_EXAMPLES = 150
FAST_MAX_TOKENS = 16


@pytest.fixture(scope="module")
def server(adapter_home_factory):
    handle = start_server(adapter_home_factory(2), adapters={"other": "v2"})
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def document(server) -> dict:
    with urllib.request.urlopen(server.url + "/openapi.json") as response:
        return json.loads(response.read())


def narrowed(document: dict, max_tokens: int) -> dict:
    """The same document with every `max_tokens` capped, so fast examples generate little."""
    result = copy.deepcopy(document)
    for model in result["components"]["schemas"].values():
        field = model.get("properties", {}).get("max_tokens")
        for option in (field or {}).get("anyOf", [field] if field else []):
            if option.get("type") == "integer":
                option["maximum"] = max_tokens
    return result


# Every operation the document must hold; a new route has to be added here (and is then fuzzed).
OPERATIONS = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("GET", "/v1/models"),
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("POST", "/admin/reload-model"),
    ("POST", "/admin/rollback"),
    ("POST", "/admin/unload"),
    ("POST", "/admin/load"),
]
# Invalid input exists only where there is input: these take a JSON body.
WITH_BODY = {"/v1/chat/completions", "/v1/completions", "/admin/reload-model"}
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or path in WITH_BODY
]


def test_the_document_lists_every_operation(document, trials):
    """The OpenAPI document holds exactly the operations fuzzed here, with no 422 (errors are 400)."""
    found = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if path != "/openapi.json"
    }
    assert found == set(OPERATIONS)
    for _, item in document["paths"].items():
        for operation in item.values():
            assert "422" not in operation["responses"]
    trials.add(len(found))
    trials.held("every route documented; 400 (not FastAPI's 422) declared for bad bodies")


def fuzz(document: dict, server, method: str, path: str, mode, examples: int, trials) -> None:
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=server.url)
    strategy = schema[path][method].as_strategy(
        mode, headers={"Authorization": f"Bearer {server.token}"}
    )

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        server.engine.load()  # fuzzing /admin/unload must not turn the rest into 503s
        response = case.call_and_validate()
        trials.add()
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error"} and body["error"]["message"], body
            assert response.status_code < 500, body

    run()
    server.engine.load()


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms(document, server, method, path, mode, trials):
    """Schema fuzzing (fast): every status declared, bodies as documented, no 5xx, OpenAI-shaped errors."""
    fuzz(narrowed(document, FAST_MAX_TOKENS), server, method, path, mode, FAST_EXAMPLES, trials)
    trials.held(
        "no 5xx; statuses, content types and bodies as documented; errors in the OpenAI shape"
    )


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_at_length(document, server, method, path, mode, trials):
    """Schema fuzzing (slow): many more examples on the document as served (long generations too)."""
    fuzz(document, server, method, path, mode, SLOW_EXAMPLES, trials)
    trials.held(
        "no 5xx; statuses, content types and bodies as documented; errors in the OpenAI shape"
    )
