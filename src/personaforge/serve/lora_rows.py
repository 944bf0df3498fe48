"""Each row of a batch under its own LoRA adapter, in one forward pass.

The engine's worker sets the rows' adapter names before each forward pass; hooks
on every LoRA layer read them. PEFT's own per-row path (`adapter_names=`) loops
over the distinct adapters in every layer, gathering and scattering each one's
rows: on the tiny base that was 59% of a step with one adapter, and with 16
adapters under 8 clients batching barely beat one request at a time (17.7
against 17.1 requests/s, bench/RESULTS.md). So PEFT's adapters are switched off
for our calls (the layer runs its base weights alone) and the hook adds the
LoRA term, PEFT's formula for plain LoRA (`B·A·x·scaling`; serve/adapters.py
refuses DoRA, and dropout is off in eval):

- every row on one adapter: two matrix products on the whole batch;
- rows on different adapters: two batched products (`bmm`) over per-row copies
  of the adapters' matrices. The stack is rebuilt only when the batch's list of
  adapters changes (a request joins or leaves), from per-adapter transposes
  made once; the bare base and an adapter that leaves this layer alone get
  zeros. Ranks may differ: the stack pads to the largest, and zero rows of A
  meet zero columns of B.

Nothing here sets PEFT's active adapter, which a load beside a step resets
(peft's update_layer); a load only adds new names to the layers' dicts, and the
hooks look names up, never iterate the dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BASE_ROW = "__base__"  # a row on the bare base


class RowAdapters:
    """The adapter of each row of the forward pass running now, and the hooks that apply them."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.shared: str | None = None  # the adapter every row shares; None: they differ

    def set(self, names: Sequence[str]) -> None:
        """The worker names each row's adapter (`BASE_ROW`: none) before a forward pass."""
        self.names = tuple(names)
        distinct = set(self.names)
        self.shared = distinct.pop() if len(distinct) == 1 else None

    def hook(self, model) -> None:
        """Put the hooks on every LoRA layer that has none yet (worker thread, between steps)."""
        from peft.tuners.lora import Linear as LoraLinear

        for module in model.modules():
            if isinstance(module, LoraLinear) and not getattr(module, "_pf_rows", False):
                module.register_forward_pre_hook(_base_weights_only)
                module.register_forward_hook(self._add_lora)
                module._pf_rows = True

    def _add_lora(self, module, args, output):
        x = args[0]
        if self.shared is not None:
            pair = _transposed(module, self.shared)
            if pair is None:
                return output
            a_t, b_t = pair
            return output + ((x.to(a_t.dtype) @ a_t) @ b_t).to(output.dtype)
        stacks = _row_stacks(module, self.names)
        if stacks is None:
            return output
        a_rows, b_rows = stacks
        flat = x.to(a_rows.dtype).reshape(x.shape[0], -1, x.shape[-1])  # [rows, tokens, in]
        delta = (flat.bmm(a_rows)).bmm(b_rows)
        return output + delta.reshape(output.shape).to(output.dtype)


def _base_weights_only(module, args):
    # PEFT's LoRA forward runs the base layer alone while its adapters are disabled; the
    # post-hook adds the rows' LoRA terms. Set on every call: the flag is per layer.
    module._disable_adapters = True


def _transposed(module, name: str) -> tuple[Any, Any] | None:
    """(Aᵀ, (B·scaling)ᵀ) of one adapter on this layer, made once; None if it leaves it alone."""
    if name == BASE_ROW or name not in module.lora_A:
        return None
    cache = module.__dict__.setdefault("_pf_transposed", {})
    if name not in cache:
        a = module.lora_A[name].weight.detach()
        b = module.lora_B[name].weight.detach() * module.scaling[name]
        cache[name] = (a.t().contiguous(), b.t().contiguous())
    return cache[name]


def _row_stacks(module, names: tuple[str, ...]) -> tuple[Any, Any] | None:
    """Per-row [rows, in, r] and [rows, r, out] stacks for a mixed batch; None if no row adapts."""
    import torch
    import torch.nn.functional as F

    cached = module.__dict__.get("_pf_stack")
    if cached is not None and cached[0] == names:
        return cached[1]
    pairs = [_transposed(module, name) for name in names]
    rank = max((pair[0].shape[1] for pair in pairs if pair is not None), default=0)
    stacks = None
    if rank:
        some = next(pair for pair in pairs if pair is not None)
        zero_a = some[0].new_zeros(some[0].shape[0], rank)
        zero_b = some[1].new_zeros(rank, some[1].shape[1])
        a_rows = [zero_a if p is None else F.pad(p[0], (0, rank - p[0].shape[1])) for p in pairs]
        b_rows = [
            zero_b if p is None else F.pad(p[1], (0, 0, 0, rank - p[1].shape[0])) for p in pairs
        ]
        stacks = (torch.stack(a_rows), torch.stack(b_rows))
    module.__dict__["_pf_stack"] = (names, stacks)
    return stacks
