"""Reading a LoRA adapter from disk and checking it against the base, before it touches the model.

Everything here runs on the engine's loader thread (for an admin reload or the server's
startup), never in the engine's worker: an adapter that cannot work (unreadable config or
weights, not LoRA, DoRA, a bias or modules_to_save, another base, a rank its config does
not state, a layer its config adapts without weights) is refused with a 400 naming the
adapter and the reason, and the model is left as it was. What passes becomes the pairs
of matrices serve/lora_rows.py applies, scaled as PEFT scales them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personaforge.serve.policy import ApiError


@dataclass
class PreparedAdapter:
    """An adapter read from disk and checked against the base, ready to attach."""

    name: str
    folder: Path
    pairs: dict[str, tuple[Any, Any]]  # base layer -> (Aᵀ, (B·scaling)ᵀ): serve/lora_rows.py


def linear_shapes(model) -> dict[str, tuple[int, int]]:
    """(out_features, in_features) of every linear layer of a base, by module name."""
    import torch

    return {
        name: (module.out_features, module.in_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }


def prepare_adapter(
    folder: Path,
    shapes: dict[str, tuple[int, int]],
    base_name: str,
    base_fingerprint: str | None,
) -> PreparedAdapter:
    """The adapter's config and weights, checked against this base; ApiError (400) if unusable."""
    from peft import PeftConfig, PeftType, load_peft_weights

    name = folder.name
    check_card(folder, base_name, base_fingerprint)
    try:
        config = PeftConfig.from_pretrained(str(folder))
    except Exception as exc:  # a user's file: any failure to parse it is theirs to fix
        raise ApiError(f"{name}: adapter_config.json is not a PEFT config ({exc})") from None
    if config.peft_type != PeftType.LORA:
        raise ApiError(f"{name} is a {config.peft_type} adapter; this server serves LoRA")
    config.inference_mode = True
    if not (folder / "adapter_model.safetensors").is_file():
        raise ApiError(f"{name} has no adapter_model.safetensors")
    try:
        weights = load_peft_weights(str(folder), device="cpu")
    except Exception as exc:  # truncated or corrupt file
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ApiError(f"{name}: the adapter weights cannot be read ({reason})") from None
    if config.use_dora:
        raise ApiError(f"{name} is a DoRA adapter; batched serving needs plain LoRA")
    if getattr(config, "lora_bias", False) or getattr(config, "modules_to_save", None):
        raise ApiError(
            f"{name} trains a bias or whole modules (lora_bias, modules_to_save); "
            "batched serving needs plain LoRA"
        )
    matrices = lora_matrices(weights)
    check_shapes(name, config, matrices, shapes)
    return PreparedAdapter(name, folder, lora_pairs(name, config, matrices, shapes))


def lora_matrices(weights: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An adapter's state dict as {base layer: {"lora_A": A, "lora_B": B}}; other keys left out."""
    matrices: dict[str, dict[str, Any]] = {}
    for key, tensor in weights.items():
        part = next((p for p in ("lora_A", "lora_B") if key.endswith(f".{p}.weight")), None)
        if part is not None:
            module = key[: -len(f".{part}.weight")].removeprefix("base_model.model.")
            matrices.setdefault(module, {})[part] = tensor
    return matrices


def lora_pairs(
    name: str, config, matrices: dict[str, dict[str, Any]], shapes: dict[str, tuple[int, int]]
) -> dict[str, tuple[Any, Any]]:
    """(Aᵀ, (B·scaling)ᵀ) per adapted layer, with PEFT's rank and alpha for that layer.

    Every layer the config adapts on this base must have both matrices: a file that lost
    some (v11 in tests/reliability/test_adapters_under_traffic.py) is refused, as PEFT did.
    """
    from peft.tuners.tuners_utils import check_target_module_exists
    from peft.utils.other import get_pattern_key

    if config.target_modules == "all-linear":  # PEFT leaves the output layer out
        targeted = {module for module in shapes if module.rpartition(".")[2] != "lm_head"}
    else:
        targeted = {module for module in shapes if check_target_module_exists(config, module)}
    pairs = {}
    for module in sorted(targeted | set(matrices)):
        parts = matrices.get(module, {})
        missing = [part for part in ("lora_A", "lora_B") if part not in parts]
        if missing:
            raise ApiError(f"{name}: adapter_model.safetensors lacks {module}.{missing[0]}")
        ranks, alphas = config.rank_pattern or {}, config.alpha_pattern or {}
        rank = ranks.get(get_pattern_key(ranks, module), config.r)
        alpha = alphas.get(get_pattern_key(alphas, module), config.lora_alpha)
        scaling = alpha / math.sqrt(rank) if config.use_rslora else alpha / rank
        a, b = parts["lora_A"].float(), parts["lora_B"].float()
        pairs[module] = (a.t().contiguous(), (b * scaling).t().contiguous())
    return pairs


def check_card(folder: Path, base_name: str, base_fingerprint: str | None) -> None:
    """An adapter whose personaforge.json names another base (by fingerprint) is refused."""
    card_file = folder / "personaforge.json"
    if not card_file.exists() or base_fingerprint is None:
        return
    try:
        base = json.loads(card_file.read_text())["base"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(f"{folder.name}: personaforge.json is unreadable") from None
    if base.get("fingerprint") not in (None, base_fingerprint):
        raise ApiError(
            f"{folder.name} was trained on base '{base.get('name')}' "
            f"({str(base.get('fingerprint'))[:12]}), but this server runs '{base_name}' "
            f"({base_fingerprint[:12]}); serve it from a server on that base"
        )


def check_shapes(
    name: str, config, matrices: dict[str, dict[str, Any]], shapes: dict[str, tuple[int, int]]
) -> None:
    """Every LoRA matrix (`lora_matrices`) must fit a linear layer of this base at the configured rank."""
    if not matrices:
        raise ApiError(f"{name}: adapter_model.safetensors holds no LoRA weights")
    for module, parts in matrices.items():
        for part, tensor in parts.items():
            shape = shapes.get(module)
            if shape is None or tensor.dim() != 2:
                raise ApiError(
                    f"{name} adapts '{module}', which this base does not have: "
                    "it was trained for another base"
                )
            out_features, in_features = shape
            rank, width = (
                (tensor.shape[0], tensor.shape[1])
                if part == "lora_A"
                else (tensor.shape[1], tensor.shape[0])
            )
            if width != (in_features if part == "lora_A" else out_features):
                raise ApiError(
                    f"{name}: '{module}' is {in_features}->{out_features} in this base but the "
                    f"adapter's {part} is {tuple(tensor.shape)}: it was trained for another base"
                )
            if not config.rank_pattern and rank != config.r:
                raise ApiError(
                    f"{name}: adapter_config.json says r={config.r} but '{module}' has rank {rank}"
                )
