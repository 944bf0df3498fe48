"""Each row of a batch under its own LoRA adapter, in one forward pass, without PEFT's modules.

The engine's worker names each row's adapter before a forward pass; every linear
layer some adapter adapts runs our forward, which reads those names. The layer
stays the base's own `nn.Linear`: only its `forward` is replaced (an attribute on
the object, so nn.Module calls it with none of the hook machinery). It computes
the base's product, then PEFT's formula for plain LoRA, `B·A·x·scaling`
(serve/adapters.py refuses DoRA, biases and modules_to_save; dropout is off at
inference):

- every row on one adapter: two matrix products on the whole batch;
- rows on different adapters, a decode step: the same two products, over the
  batch's distinct adapters concatenated along the rank, each row masked to its own
  adapter's columns (the bare base, and an adapter that leaves this layer alone, own
  none). Ranks may differ;
- rows on different adapters, a prompt pass: each adapter's products on its own rows.

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
        self.distinct: tuple[str, ...] = ()  # the rows' adapters, each once, in row order
        self.shared: str | None = None  # the adapter every row shares; None: they differ
        self.adapters: dict[str, dict[str, Pair]] = {}  # adapter -> layer name -> its pair
        self.routed: set[str] = set()  # the layers that run our forward
        # The rows' masks, by the ranks they were built for; emptied when the rows change.
        self._masks: dict = {}

    def set(self, names: Sequence[str]) -> None:
        """The worker names each row's adapter (`BASE_ROW`: none) before a forward pass."""
        names = tuple(names)
        if names != self.names:
            self.names, self.distinct, self._masks = names, tuple(dict.fromkeys(names)), {}
        self.shared = self.distinct[0] if len(self.distinct) == 1 else None

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
        if x.dim() == 3 and x.shape[1] > 1:  # a prompt pass: [rows, tokens, in]
            return self._grouped(layer, x, output)
        mixed = self._mixed(linear, layer)
        if mixed is None:  # no row's adapter adapts this layer
            return output
        a_cat, b_cat, mask = mixed
        lora = x @ a_cat if x.dtype == a_cat.dtype else x.to(a_cat.dtype) @ a_cat
        lora = lora * mask.view(mask.shape[0], *[1] * (x.dim() - 2), mask.shape[1])
        return output + (lora @ b_cat).to(output.dtype)

    def _pair(self, adapter: str, layer: str) -> Pair | None:
        if adapter == BASE_ROW:
            return None
        return self.adapters[adapter].get(layer)

    def _grouped(self, layer: str, x, output):
        """A prompt pass of mixed adapters: each adapter's two products on its own rows.

        Its products are large, so a few more calls cost little, while `_mixed`'s
        concatenation would run every adapter on every row: with 8 adapters at r16 on
        smollm2-135m, 37% of the base's own multiply-adds, against 4.6% for each row's own.
        """
        import torch

        for name in self.distinct:
            pair = self._pair(name, layer)
            if pair is None:
                continue
            rows = torch.tensor([row for row, named in enumerate(self.names) if named == name])
            part = (x.index_select(0, rows).to(pair[0].dtype) @ pair[0]) @ pair[1]
            output = output.index_add(0, rows, part.to(output.dtype))
        return output

    def _mixed(self, linear, layer: str) -> tuple[Any, Any, Any] | None:
        """This layer's matrices for a decode step of mixed adapters, and which rows use which columns.

        The batch's distinct adapters are concatenated along the rank: Aᵀ [in, Σr] and
        (B·scaling)ᵀ [Σr, out], each row's product masked to its own adapter's columns
        ([rows, Σr] of 0 and 1). Two products on the whole batch, as for one adapter: an
        8-row step of the tiny base on two adapters took 2.7 to 2.9 ms, one on a shared
        adapter 2.4 to 2.8 ms. The per-row batched products (`bmm`) this replaced took 3.1
        to 3.4 ms, and 5.2 to 5.7 ms in a step whose rows had changed (every layer rebuilt
        its per-row copies). The concatenation changes with the set of adapters (about
        twice per reload) and is kept on the layer (worker thread only); the mask changes
        with the rows. None if no row's adapter adapts this layer.
        """
        bank = linear.__dict__.get("_pf_bank")
        if bank is None or bank[0] != self.distinct:
            bank = (self.distinct, self._concatenated(self.distinct, layer))
            linear.__dict__["_pf_bank"] = bank
        if bank[1] is None:
            return None
        a_cat, b_cat, ranks = bank[1]
        return a_cat, b_cat, self._row_mask(ranks, a_cat.dtype)

    def _row_mask(self, ranks: tuple[int, ...], dtype):
        """[rows, Σr]: 1 where a column belongs to the row's adapter. Built once per change of
        rows for every layer whose adapters have these ranks (`ranks[i]`: distinct[i]'s, 0 if
        it leaves the layer alone), usually all of them."""
        import torch

        key = (ranks, dtype)
        if key not in self._masks:
            order = {name: position for position, name in enumerate(self.distinct)}
            rows = torch.tensor([order[name] for name in self.names])
            owners = torch.repeat_interleave(torch.arange(len(ranks)), torch.tensor(ranks))
            self._masks[key] = (rows[:, None] == owners[None, :]).to(dtype)
        return self._masks[key]

    def _concatenated(self, distinct: tuple[str, ...], layer: str) -> tuple[Any, Any, tuple] | None:
        """Aᵀ [in, Σr] and (B·scaling)ᵀ [Σr, out] of the adapters in `distinct` that adapt
        `layer`, and each one's rank here (0: the bare base, or an adapter that leaves the
        layer alone, owns no columns); None if none adapts it. Ranks may differ."""
        import torch

        pairs = [self._pair(name, layer) for name in distinct]
        ranks = tuple(0 if pair is None else pair[0].shape[1] for pair in pairs)
        if not any(ranks):
            return None
        a_cat = torch.cat([pair[0] for pair in pairs if pair is not None], dim=1)
        b_cat = torch.cat([pair[1] for pair in pairs if pair is not None], dim=0)
        return a_cat, b_cat, ranks
