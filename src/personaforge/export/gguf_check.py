"""Is a GGUF file the model it came from? llama.cpp against transformers, position by position.

    lines = verify_gguf(model, tokenizer, Path("v3-f16.gguf"), "f16")

Both runtimes read the same fixed prompts. Three things are compared, each
printed beside its threshold (FIDELITY, per GGUF type): the greedy
continuations token for token, the share of positions whose likeliest next
token agrees, and the mean KL between the two next-token distributions. A
failed check raises UserError, so export keeps nothing that did not pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from personaforge.errors import UserError
from personaforge.evaluate.measure import generate

PROMPTS = [
    [{"role": "user", "content": "What is 3 + 4?"}],
    [{"role": "user", "content": "How was your week?"}],
    [
        {"role": "system", "content": "You are me."},
        {"role": "user", "content": "What are you working on?"},
    ],
]
CONTINUATION_TOKENS = 16


class Unchecked(str):
    """A check that could not run here, with why: shown as unchecked, never as passed."""


def llama_cpp_module():
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp


def _greedy_llama(llm, prompt: list[int]) -> list[int]:
    llm.reset()
    generated = []
    for token in llm.generate(prompt, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
        generated.append(token)
        if len(generated) == CONTINUATION_TOKENS:
            break
    return generated


@dataclass(frozen=True)
class Fidelity:
    """What a GGUF of one type must show against the transformers model it came from.

    Scored teacher-forced: both runtimes read the same tokens (the prompt plus the
    transformers model's greedy continuation) and predict each next token, so one
    early disagreement does not make every later position disagree too.
    """

    exact: bool  # greedy continuations must be token-identical
    min_top1: float  # share of positions whose most likely next token is the same
    max_mean_kl: float  # mean KL(transformers || llama.cpp) of the next-token distributions, nats


# f32/f16/bf16 round weights at most to 16 bits: greedy tokens must match exactly, and
# the distributions nearly so. q8_0 quantizes every weight matrix to 8 bits; measured
# on the tiny and smollm2-135m bases (bench/RESULTS.md, "GGUF fidelity") it keeps top-1
# agreement near 99% and mean KL under 0.01, so 90% and 0.05 leave room for other
# models while a broken conversion (wrong tokenizer, wrong rope, garbage weights)
# scores near 0% and several nats.
FIDELITY = {
    "f32": Fidelity(exact=True, min_top1=1.0, max_mean_kl=1e-3),
    "f16": Fidelity(exact=True, min_top1=0.98, max_mean_kl=0.01),
    "bf16": Fidelity(exact=True, min_top1=0.95, max_mean_kl=0.02),
    "q8_0": Fidelity(exact=False, min_top1=0.90, max_mean_kl=0.05),
}


# A position where the transformers model's two likeliest tokens are within this many
# nats is a near-tie: 16-bit rounding alone may flip it (smollm2-135m f16: 1 flip in 48
# positions at a mean KL of 4.6e-06), so top-1 agreement is scored on the other positions.
# Mean KL still covers every position, and a broken conversion disagrees on confident ones.
NEAR_TIE_NATS = 0.05


@dataclass
class Agreement:
    identical: int  # prompts whose greedy continuation matched token for token
    prompts: int
    top1: float  # over the positions that are not near-ties
    mean_kl: float
    positions: int
    near_ties: int = 0  # positions left out of top-1 agreement

    def meets(self, fidelity: Fidelity) -> bool:
        return (
            (not fidelity.exact or self.identical == self.prompts)
            and self.top1 >= fidelity.min_top1
            and self.mean_kl <= fidelity.max_mean_kl
        )

    def line(self, quant: str, fidelity: Fidelity) -> str:
        exact = f"{self.identical}/{self.prompts} greedy continuations identical" + (
            " (needs all)" if fidelity.exact else ""
        )
        return (
            f"llama.cpp vs transformers ({quant}): {exact}; next-token top-1 agreement "
            f"{self.top1:.1%} (needs >= {fidelity.min_top1:.0%}), mean KL {self.mean_kl:.2g} "
            f"(needs <= {fidelity.max_mean_kl:g}) over {self.positions} positions"
            + (f" ({self.near_ties} near-ties left out of top-1)" if self.near_ties else "")
        )


def _log_softmax(rows):
    import torch

    return torch.log_softmax(torch.as_tensor(rows, dtype=torch.float64), dim=-1)


def score_positions(ours_log, theirs_log) -> tuple[int, int, list[float]]:
    """(top-1 matches, positions that are not near-ties, KL per position) of two
    [positions, vocabulary] log-probability tables."""
    best = ours_log.topk(2, dim=-1).values
    decisive = (best[:, 0] - best[:, 1]) > NEAR_TIE_NATS
    agree = ours_log.argmax(-1) == theirs_log.argmax(-1)
    kls = (ours_log.exp() * (ours_log - theirs_log)).sum(-1).tolist()
    return int((agree & decisive).sum()), int(decisive.sum()), kls


def measure_agreement(model, tokenizer, llm) -> Agreement:
    import torch

    identical, matches, decisive, kls = 0, 0, 0, []
    for messages in PROMPTS:
        prompt = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
        # No EOS stop: both sides must produce all CONTINUATION_TOKENS to be compared.
        expected = generate(model, tokenizer, messages, CONTINUATION_TOKENS, stop_at_eos=False)[1]
        identical += _greedy_llama(llm, prompt) == expected
        sequence = prompt + expected
        with torch.no_grad():
            reference = model(input_ids=torch.tensor([sequence])).logits[0].float()
        llm.reset()
        llm.eval(sequence)
        theirs = llm.scores[: len(sequence)]
        scored = slice(len(prompt) - 1, len(sequence) - 1)  # each position predicts the next token
        found = score_positions(_log_softmax(reference[scored]), _log_softmax(theirs[scored]))
        matches, decisive, kls = matches + found[0], decisive + found[1], kls + found[2]
    return Agreement(
        identical,
        len(PROMPTS),
        matches / decisive if decisive else 1.0,
        sum(kls) / len(kls),
        len(kls),
        len(kls) - decisive,
    )


def verify_gguf(
    model, tokenizer, gguf_path: Path, quant: str, lora_path: Path | None = None
) -> list[str]:
    llama_cpp = llama_cpp_module()
    if llama_cpp is None:
        return [
            Unchecked(
                "not loaded: llama-cpp-python is not installed (pip install 'personaforge[gguf]'); "
                "the file was converted but its continuations are unchecked"
            )
        ]
    kwargs = {"lora_path": str(lora_path)} if lora_path else {}
    llm = llama_cpp.Llama(
        model_path=str(gguf_path), n_ctx=512, verbose=False, seed=0, logits_all=True, **kwargs
    )
    fidelity = FIDELITY[quant]
    agreement = measure_agreement(model, tokenizer, llm)
    line = agreement.line(quant, fidelity)
    if not agreement.meets(fidelity):
        raise UserError(f"GGUF verification failed: {line}")
    return [line]
