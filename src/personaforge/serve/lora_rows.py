"""Each row of a batch under its own LoRA adapter, in one forward pass, without PEFT's modules.

The engine's worker names each row's adapter before a forward pass; every linear
layer some adapter adapts runs our forward, which reads those names. The layer
stays the base's own `nn.Linear`: only its `forward` is replaced (an attribute on
the object, so nn.Module calls it with none of the hook machinery). It computes
the base's product, then PEFT's formula for plain LoRA, `B·A·x·scaling`
(serve/adapters.py refuses DoRA, biases and modules_to_save; dropout is off at
inference):

- every row on one adapter: two matrix products on the whole batch;
- rows on different adapters: two batched products (`bmm`) over per-row copies
  of the adapters' matrices. The stack is rebuilt only when the batch's list of
  adapters changes (a request joins or leaves); the bare base and an adapter that
  leaves this layer alone get zeros. Ranks may differ: the stack pads to the
  largest, and zero rows of A meet zero columns of B.

Why not PEFT's own modules. PEFT's per-row path (`adapter_names=`) loops over the
distinct adapters in every layer: with 16 adapters under 8 clients, batching
barely beat one request at a time (17.7 against 17.1 requests/s). Forward hooks
on PEFT's layers, our next step, still took 27% of a decode step with one
adapter. And attaching an adapter through PEFT (add_adapter, then loading its
state dict) walked every module of the model: 26 ms for the second adapter on
the tiny base, 37 ms for the sixth, holding the GIL beside generation
(bench/RESULTS.md, serve). Here an adapter is a dict of transposed matrices,
added in one assignment.

Loads beside a forward pass are safe: a new adapter's name is in no row until an
alias points at it, and a layer given our forward mid-pass computes, for rows
not on the new adapter, exactly what the base layer did.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

BASE_ROW = "__base__"  # a row on the bare base

Pair = tuple[Any, Any]  # (Aᵀ [in, r], (B·scaling)ᵀ [r, out]) of one adapter on one layer


class RowAdapters:
    """The adapters a model serves, and the adapter of each row of the pass running now."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.shared: str | None = None  # the adapter every row shares; None: they differ
        self.adapters: dict[str, dict[str, Pair]] = {}  # adapter -> layer name -> its pair
        self.routed: set[str] = set()  # the layers that run our forward

    def set(self, names: Sequence[str]) -> None:
        """The worker names each row's adapter (`BASE_ROW`: none) before a forward pass."""
        self.names = tuple(names)
        distinct = set(self.names)
        self.shared = distinct.pop() if len(distinct) == 1 else None

    def add(self, model, name: str, pairs: dict[str, Pair]) -> None:
        """Serve adapter `name` (its pairs by the base's layer names) on `model`.

        Layers no earlier adapter adapted get our forward first, then the adapter becomes
        visible in one assignment. One load at a time (the engine's loading lock).
        """
        for layer in sorted(set(pairs) - self.routed):
            linear = model.get_submodule(layer)
            linear.forward = functools.partial(self._forward, linear, layer)
            self.routed.add(layer)
        self.adapters[name] = pairs

    def _forward(self, linear, layer: str, x):
        import torch.nn.functional as F

        output = F.linear(x, linear.weight, linear.bias)
        if self.shared is not None:
            pair = self._pair(self.shared, layer)
            if pair is None:  # every row on the bare base, or an adapter that skips this layer
                return output
            a_t, b_t = pair
            if x.dtype == a_t.dtype:
                return output + (x @ a_t) @ b_t
            return output + ((x.to(a_t.dtype) @ a_t) @ b_t).to(output.dtype)
        stacks = self._row_stacks(linear, layer)
        if stacks is None:
            return output
        a_rows, b_rows = stacks
        flat = x.to(a_rows.dtype).reshape(x.shape[0], -1, x.shape[-1])  # [rows, tokens, in]
        delta = (flat.bmm(a_rows)).bmm(b_rows)
        return output + delta.reshape(output.shape).to(output.dtype)

    def _pair(self, adapter: str, layer: str) -> Pair | None:
        if adapter == BASE_ROW:
            return None
        return self.adapters[adapter].get(layer)

    def _row_stacks(self, linear, layer: str) -> Pair | None:
        """Per-row [rows, in, r] and [rows, r, out] stacks for a mixed batch; None if no row adapts.

        Kept on the layer (worker thread only) until the batch's adapters change.
        """
        import torch
        import torch.nn.functional as F

        names = self.names
        cached = linear.__dict__.get("_pf_stack")
        if cached is not None and cached[0] == names:
            return cached[1]
        pairs = [self._pair(name, layer) for name in names]
        rank = max((pair[0].shape[1] for pair in pairs if pair is not None), default=0)
        stacks = None
        if rank:
            some = next(pair for pair in pairs if pair is not None)
            zero_a = some[0].new_zeros(some[0].shape[0], rank)
            zero_b = some[1].new_zeros(rank, some[1].shape[1])
            a_rows = [
                zero_a if p is None else F.pad(p[0], (0, rank - p[0].shape[1])) for p in pairs
            ]
            b_rows = [
                zero_b if p is None else F.pad(p[1], (0, 0, 0, rank - p[1].shape[0])) for p in pairs
            ]
            stacks = (torch.stack(a_rows), torch.stack(b_rows))
        linear.__dict__["_pf_stack"] = (names, stacks)
        return stacks
