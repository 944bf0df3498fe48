"""Training on CPU with the micro base: real TRL + PEFT runs, a few seconds each."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time

import pytest

from personaforge.cli.train import dpo_moved
from personaforge.config import IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.errors import UserError
from personaforge.ingest import ingest
from personaforge.registry import Registry
from personaforge.sample import sample_identity
from personaforge.store import MemoryStore
from personaforge.train.attention import SEGMENTS
from personaforge.train.lock import AcceleratorLock
from personaforge.train.plan import package_available
from personaforge.train.run import TrainRequest, train
from tests.helpers import MICRO_BASE, micro_settings

BASE = MICRO_BASE


def settings(**train) -> Settings:
    return micro_settings(**train)


@pytest.fixture
def home(home_with_micro, sample_data):
    """A home with the micro base, the sample person ingested and a foundation dataset built."""
    with MemoryStore.open(home_with_micro.memory_store) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
        build_dataset(store, Settings(), home_with_micro, DatasetRequest(MixPlan("foundation")))
    return home_with_micro


def run(home, request=None, **train_settings):
    return train(home, settings(**train_settings), request or TrainRequest(show_progress=False))


def test_sft_lowers_held_out_loss_and_saves_a_peft_version(home, micro_base):
    base_file = micro_base / "model.safetensors"
    base_hash = hashlib.sha256(base_file.read_bytes()).hexdigest()
    result = run(home, max_steps=30)
    metrics = result.card["metrics"]
    assert metrics["eval_loss_after"] < metrics["eval_loss_before"] - 0.1
    assert (
        result.version == "v1"
        and result.card["parent"] is None
        and result.card["status"] == "candidate"
    )
    files = {p.name for p in result.folder.iterdir()}
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "personaforge.json",
        "metrics.jsonl",
        "tokenizer.json",
        "chat_template.jinja",
    } <= files
    # The base weights on disk are untouched; the adapter holds LoRA matrices only, and they moved.
    assert hashlib.sha256(base_file.read_bytes()).hexdigest() == base_hash
    from safetensors.torch import load_file

    tensors = load_file(result.folder / "adapter_model.safetensors")
    assert tensors and all("lora_" in name for name in tensors)
    lora_b = [t for name, t in tensors.items() if "lora_B" in name]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero; training moved it
    card = json.loads((result.folder / "personaforge.json").read_text())
    assert (
        card["base"]["fingerprint"]
        and card["dataset"]["manifest_sha256"]
        and card["hyperparameters"]["lora_rank"] == 4
    )


def test_the_adapter_loads_with_plain_peft_and_changes_the_output(home, micro_base):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = run(home, max_steps=12)
    tokenizer = AutoTokenizer.from_pretrained(result.folder)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "How was your run?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    base = AutoModelForCausalLM.from_pretrained(micro_base)
    with torch.no_grad():
        before = base(**inputs).logits
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(micro_base), result.folder
    )
    with torch.no_grad():
        after = tuned(**inputs).logits
    assert not torch.allclose(before, after)


def test_assistant_only_masking_no_prompt_token_carries_loss(home, micro_base):
    from personaforge.bases import resolve_base
    from personaforge.train.backends import load_for_training
    from personaforge.train.run import load_rows, preflight
    from personaforge.train.trainers import build_sft_trainer

    config = settings()
    ref = resolve_base(BASE, home)
    plan = preflight(ref, config)
    loaded = load_for_training(ref, config, plan, None)
    _, rows, _ = load_rows(home, None, "sft")
    trainer = build_sft_trainer(loaded, config, plan, home.runs / "mask", rows[:12], [], [])
    tokenizer = loaded.tokenizer
    items = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    assert len(items) >= 6  # TRL drops rows whose reply is cut off entirely by max_length
    batch = trainer.data_collator(items)
    assert batch["input_ids"].shape[0] == 1  # padding-free on CPU: the batch is one row
    labels = example_labels(batch)
    assert len(labels) == len(items)
    for index, item in enumerate(items):
        full = tokenizer.decode(item["input_ids"])
        row = next(
            r
            for r in rows[:12]
            if tokenizer.apply_chat_template(r["messages"], tokenize=False).startswith(full)
        )
        trained = tokenizer.decode([t for t in labels[index] if t != -100])
        replies = "".join(
            m["content"] + "<|im_end|>" for m in row["messages"][1:] if m["role"] == "assistant"
        )
        assert trained and replies.startswith(
            trained
        )  # truncation may cut the tail, never add prompt
        assert "You are" not in trained and "<|im_start|>" not in trained


def test_recalled_context_turns_are_never_trained(home, micro_base):
    """A grounded row in the `asked` format holds her facts as earlier answers, composed from
    the profile: flagged as context, they carry no loss; her own answers after them do, and
    so do the rows without any (tokenized the same way TRL would)."""
    from personaforge.bases import resolve_base
    from personaforge.dataset.examples import CONTEXT_TURN
    from personaforge.train.backends import load_for_training
    from personaforge.train.run import preflight
    from personaforge.train.trainers import build_sft_trainer

    config = settings()
    ref = resolve_base(BASE, home)
    plan = preflight(ref, config)
    loaded = load_for_training(ref, config, plan, None)
    recalled = {"role": "assistant", "content": "I am from Bergen.", CONTEXT_TURN: True}
    grounded = {
        "messages": [
            {"role": "system", "content": "You are Maren."},
            {"role": "user", "content": "Which place did you grow up in?"},
            recalled,
            {"role": "user", "content": "Where were you born?"},
            {"role": "assistant", "content": "Bergen, and the rain came with me."},
        ]
    }
    plain = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in [("Tea or coffee?", "Tea, always."), ("Plans?", "A long run on Sunday.")]
    ]
    trainer = build_sft_trainer(
        loaded, config, plan, home.runs / "context", [grounded, *plain], plain[:1], []
    )
    tokenizer = loaded.tokenizer
    items = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    trained = [tokenizer.decode([t for t in item["labels"] if t != -100]) for item in items]
    assert trained[0] == "Bergen, and the rain came with me.<|im_end|>"
    assert "I am from Bergen" in tokenizer.decode(items[0]["input_ids"])  # still seen
    for row, text in zip(plain, trained[1:], strict=True):
        replies = "".join(
            m["content"] + "<|im_end|>" for m in row["messages"][1:] if m["role"] == "assistant"
        )
        assert text and replies.startswith(text)
    evaluated = trainer.eval_dataset[0]
    assert tokenizer.decode([t for t in evaluated["labels"] if t != -100]) == trained[1]


def example_labels(batch) -> list[list[int]]:
    """Each example's labels out of a padding-free batch (one row, positions restart at 0)."""
    positions, labels = batch["position_ids"][0].tolist(), batch["labels"][0].tolist()
    starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
    return [labels[a:b] for a, b in itertools.pairwise(starts)]


def trainer_with_random_lora(home, config, rows, name):
    """(trainer, model in eval mode, a collated batch of 6): LoRA weights drawn at random under
    one seed, so two trainers built this way hold the same net (LoRA B starts at zero, which
    would make every adapter's gradient path vanish; eval mode turns LoRA dropout off)."""
    import torch

    from personaforge.bases import resolve_base
    from personaforge.train.backends import load_for_training
    from personaforge.train.run import preflight
    from personaforge.train.trainers import build_sft_trainer

    ref = resolve_base(BASE, home)
    plan = preflight(ref, config)
    loaded = load_for_training(ref, config, plan, None)
    trainer = build_sft_trainer(loaded, config, plan, home.runs / name, rows[:12], [], [])
    assert len(trainer.train_dataset) >= 6  # TRL drops rows cut off entirely by max_length
    model = trainer.model.eval()
    torch.manual_seed(0)
    for param in model.parameters():
        if param.requires_grad:
            param.data.normal_(0, 0.05)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    return trainer, model, batch


def test_padding_free_batches_give_the_padded_loss_and_gradients(home, micro_base):
    """The joined row must train exactly like the padded batch: if an example attended to the
    one before it, or the first token of one were scored against the last of another, the
    loss and the LoRA gradients would differ."""
    import torch

    from personaforge.train.run import load_rows

    def loss_and_grads(batch):
        model.zero_grad()
        out = model(**{k: v for k, v in batch.items() if k != "labels"})
        logits, labels = out.logits[..., :-1, :], batch["labels"][..., 1:]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum"
        )
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
        return loss.item(), grads

    _, rows, _ = load_rows(home, None, "sft")
    results = {}
    for mode in ("off", "on"):
        _, model, batch = trainer_with_random_lora(home, settings(padding_free=mode), rows, mode)
        assert ("attention_mask" in batch) == (mode == "off")
        if mode == "on":  # the joined row attends per example, from the examples' bounds
            assert model.config._attn_implementation == SEGMENTS and "cu_seq_lens_q" in batch
        results[mode] = loss_and_grads(batch)
    (padded, padded_grads), (joined, joined_grads) = results["off"], results["on"]
    assert joined == pytest.approx(padded, rel=1e-4)
    for a, b in zip(padded_grads, joined_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-3)


def test_compact_loss_head_gives_trls_loss_and_gradients(home, micro_base):
    """Scoring only the labelled positions must be the same loss as TRL's chunked LM head: if a
    kept position were off by one, or a prompt token were scored, the two would differ."""
    import torch

    from personaforge.train.run import load_rows
    from personaforge.train.trainers import compact_nll

    _, rows, _ = load_rows(home, None, "sft")
    results = {}
    for mode in ("chunked", "compact"):
        trainer, model, batch = trainer_with_random_lora(home, settings(loss_head=mode), rows, mode)
        assert (type(trainer).__name__ == "CompactLossSFTTrainer") == (mode == "compact")
        scored = (batch["labels"] != -100).sum().item()
        assert 0 < scored < batch["labels"].numel()  # prompts are masked, replies are not
        model.zero_grad()
        loss = trainer.compute_loss(model, batch)
        loss.backward()
        results[mode] = loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad]
    (chunked, chunked_grads), (compact, compact_grads) = results["chunked"], results["compact"]
    assert compact == pytest.approx(chunked, rel=1e-4)
    for a, b in zip(chunked_grads, compact_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-3)
    # A batch with nothing to learn is a differentiable zero, not 0/0.
    batch = {**batch, "labels": torch.full_like(batch["labels"], -100)}
    empty = compact_nll(model, batch)
    empty.backward()
    assert empty.item() == 0.0


def test_interrupted_run_resumes_with_the_same_data_order(home):
    straight = run(home, request=TrainRequest(show_progress=False, fresh=True), max_steps=8, seed=3)
    straight_losses = {h["step"]: h["loss"] for h in straight.history if "loss" in h}
    assert not straight.interrupted and straight.steps == 8

    other = home.home.parent / "second"
    other.mkdir()
    import shutil

    shutil.copytree(
        home.home, other / "home", symlinks=True, ignore=shutil.ignore_patterns("adapters", "runs")
    )
    from personaforge.paths import Paths

    second = Paths(other / "home")
    stopped = run(
        second,
        request=TrainRequest(show_progress=False, fresh=True, stop_after_steps=4),
        max_steps=8,
        seed=3,
    )
    assert stopped.interrupted and stopped.steps == 4 and stopped.version is None
    resumed = run(
        second,
        request=TrainRequest(show_progress=False, fresh=True, resume=True),
        max_steps=8,
        seed=3,
    )
    assert resumed.resumed_from_step == 4 and resumed.steps == 8 and not resumed.interrupted
    resumed_losses = {h["step"]: h["loss"] for h in resumed.history if "loss" in h}
    assert set(resumed_losses) == {5, 6, 7, 8}
    # Same batches give the same loss up to float noise from the restored state (measured:
    # 3e-4 relative at most), well inside the tolerance.
    for step, loss in resumed_losses.items():
        assert loss == pytest.approx(straight_losses[step], rel=2e-3), step


def test_resume_without_a_checkpoint_is_refused(home):
    with pytest.raises(UserError, match="nothing to resume"):
        run(home, request=TrainRequest(show_progress=False, resume=True))


def test_dpo_builds_on_the_sft_adapter(home, micro_base):
    sft = run(home, max_steps=6)
    dpo = run(home, request=TrainRequest(method="dpo", show_progress=False), max_steps=4)
    assert dpo.card["method"] == "dpo" and dpo.card["parent"] == sft.version and dpo.steps == 4
    metrics = dpo.card["metrics"]
    numbers = metrics["dpo"]
    # The reference is the SFT parent: before the first update policy and reference are the
    # same model, so every reward is exactly zero (against the bare base they would not be).
    assert numbers["reward_accuracy_first"] == 0.0 and numbers["reward_margin_first"] == 0.0
    assert numbers["heldout_accuracy_before"] == 0.0 and numbers["heldout_margin_before"] == 0.0
    # Then it learned to prefer chosen over rejected, on the training pairs and on held-out
    # ones (measured on the micro base: accuracy 1.0 and 0.75, margins +0.010 and +0.003).
    assert numbers["reward_accuracy_last_epoch"] > 0.5 and numbers["reward_margin_last_epoch"] > 0
    assert numbers["heldout_accuracy_after"] > 0 and numbers["heldout_margin_after"] > 0
    assert dpo_moved(numbers)
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert metrics["eval_loss_after"] < metrics["eval_loss_before"]
    # Measured here, outside TRL, on the dataset's own labels: the DPO adapter raised
    # log p(chosen) - log p(rejected) over its SFT parent (pairs trained with chosen and
    # rejected swapped would lower it, while TRL's own numbers would look just as good).
    from personaforge.train.run import load_rows

    _, pairs, _ = load_rows(home, None, "dpo")
    shifts = [
        after - before
        for before, after in zip(
            preference_margins(micro_base, sft.folder, pairs),
            preference_margins(micro_base, dpo.folder, pairs),
            strict=True,
        )
    ]
    assert len(shifts) >= 8 and sum(shifts) / len(shifts) > 0, shifts
    assert sum(shift > 0 for shift in shifts) > len(shifts) / 2, shifts


def test_a_dpo_run_that_learns_nothing_is_told_apart(home):
    """At lr 1e-9 TRL's reward accuracy still reads high: margins of 1e-9 are above zero."""
    run(home, max_steps=4)
    still = run(
        home,
        request=TrainRequest(method="dpo", show_progress=False),
        max_steps=4,
        dpo_learning_rate=1e-9,
    )
    assert not dpo_moved(still.card["metrics"]["dpo"])


def test_dpo_runs_its_epochs_and_max_steps_only_caps_them(home):
    import math

    from personaforge.train.run import load_rows

    run(home, max_steps=4)
    dpo = run(
        home, request=TrainRequest(method="dpo", show_progress=False), max_steps=100, dpo_epochs=1
    )
    _, pairs, _ = load_rows(home, None, "dpo")
    assert dpo.steps == math.ceil(len(pairs) / settings().train.batch_size)


def preference_margins(base, adapter, pairs) -> list[float]:
    """Summed log p(chosen | prompt) - log p(rejected | prompt) per pair, base plus adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).eval()

    def reply_logprob(prompt, reply) -> float:
        head = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(
            [*prompt, {"role": "assistant", "content": reply}], tokenize=False
        )
        assert full.startswith(head)
        start = len(tokenizer(head, add_special_tokens=False)["input_ids"])
        ids = tokenizer(full, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logprobs = model(ids).logits[0, :-1].log_softmax(-1)
        picked = logprobs.gather(1, ids[0, 1:, None])[:, 0]
        return picked[start - 1 :].sum().item()

    return [
        reply_logprob(p["prompt"], p["chosen"]) - reply_logprob(p["prompt"], p["rejected"])
        for p in pairs
    ]


def test_continual_learning_starts_from_the_current_adapter(home):
    first = run(home, max_steps=4)
    with Registry.open(home) as registry:
        registry.promote(first.version)
    second = run(home, max_steps=4)
    assert second.card["parent"] == first.version
    fresh = run(home, request=TrainRequest(show_progress=False, fresh=True), max_steps=4, seed=9)
    assert fresh.card["parent"] is None


def test_preflight_refuses_impossible_configurations_before_loading(home):
    import torch

    if not torch.cuda.is_available():
        refused = "train.backend=unsloth needs a CUDA GPU"
    elif not package_available("unsloth"):
        refused = "train.backend=unsloth but unsloth is not installed"
    else:
        refused = None  # unsloth can run here: nothing to refuse
    if refused:
        with pytest.raises(UserError, match=r"training would not run: \(1\) " + refused):
            run(home, backend="unsloth")
    with pytest.raises(UserError, match="no version 'v9' in the registry"):
        run(home, request=TrainRequest(show_progress=False, from_version="v9"))
    with pytest.raises(UserError, match="DPO builds on an SFT adapter"):
        run(home, request=TrainRequest(method="dpo", show_progress=False))


def test_a_second_training_on_the_same_device_is_refused(tmp_path):
    holder = AcceleratorLock(tmp_path, "cuda-0", "train")
    assert holder.try_acquire()
    with pytest.raises(UserError, match="in use by another training"):
        AcceleratorLock(tmp_path, "cuda-0", "train").acquire()
    holder.release()
    AcceleratorLock(tmp_path, "cuda-0", "train").acquire()


def test_a_server_is_asked_to_release_the_device(tmp_path):
    server = AcceleratorLock(tmp_path, "cuda-0", "serve")
    assert server.try_acquire()

    def serve_until_asked():
        while not server.release_requested():
            time.sleep(0.05)
        server.release()

    thread = threading.Thread(target=serve_until_asked)
    thread.start()
    trainer = AcceleratorLock(tmp_path, "cuda-0", "train")
    trainer.acquire(wait_for_server_s=10, poll_s=0.05)
    thread.join()
    assert trainer.owner()["role"] == "train" and not trainer.release_path.exists()
    trainer.release()


def test_ctrl_c_saves_a_checkpoint_and_stops(home, monkeypatch):
    """A real SIGINT mid-run: the step finishes, a checkpoint is written, the run says interrupted."""
    import os
    import signal

    from transformers import TrainerCallback

    from personaforge.train import run as run_module
    from personaforge.train.trainers import build_sft_trainer as original

    class SendSigint(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 2:
                os.kill(os.getpid(), signal.SIGINT)

    def with_sigint(loaded, settings_, plan, run_dir, train_rows, eval_rows, callbacks, **extra):
        callbacks = [*callbacks, SendSigint()]
        return original(loaded, settings_, plan, run_dir, train_rows, eval_rows, callbacks, **extra)

    monkeypatch.setitem(run_module.TRAINERS, "sft", with_sigint)
    # Not always default_int_handler: a shell's background job starts with SIGINT ignored.
    before = signal.getsignal(signal.SIGINT)
    result = run(home, max_steps=10)
    assert result.interrupted and result.steps == 3 and result.version is None
    assert (result.run_dir / "checkpoint-3").is_dir()
    assert signal.getsignal(signal.SIGINT) is before  # our handler is gone again


def test_a_training_that_fails_leaves_no_ctrl_c_handler_behind(home, monkeypatch):
    """The trainer skips on_train_end when a step raises; Ctrl-C must still be the process's own
    afterwards (a leaked handler swallowed the next one: the ingest test that follows failed)."""
    import signal

    from transformers import TrainerCallback

    from personaforge.train import run as run_module
    from personaforge.train.trainers import build_sft_trainer as original

    class Fails(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1:
                raise OSError(28, "No space left on device")

    def failing(loaded, settings_, plan, run_dir, train_rows, eval_rows, callbacks, **extra):
        callbacks = [*callbacks, Fails()]
        return original(loaded, settings_, plan, run_dir, train_rows, eval_rows, callbacks, **extra)

    monkeypatch.setitem(run_module.TRAINERS, "sft", failing)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises((OSError, UserError)):
        run(home, max_steps=4)
    assert signal.getsignal(signal.SIGINT) is before


def test_shrinking_a_parent_adapter_averages_it_with_the_base(micro_base):
    """blend's start: W + 0.5·ΔW, i.e. halfway between the parent and the base, in every layer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from personaforge.train.backends import shrink_adapter

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(micro_base)
    original = {n: p.detach().clone() for n, p in base.named_parameters()}
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"])
    model = get_peft_model(base, config)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # PEFT starts B at zero: give the adapter a real change
            torch.nn.init.normal_(param, std=0.5)

    def deltas() -> dict[str, torch.Tensor]:
        out = {}
        for name, module in model.named_modules():
            if hasattr(module, "get_delta_weight") and "default" in module.lora_A:
                out[name] = module.get_delta_weight("default").detach().clone()
        return out

    before = deltas()
    assert len(before) == 2 * 2 and all(d.abs().sum() > 0 for d in before.values())
    assert shrink_adapter(model, 0.5) == len(before)
    after = deltas()
    for name, delta in before.items():
        torch.testing.assert_close(after[name], 0.5 * delta)
    # The base weights themselves are untouched: only the adapter moved.
    for name, param in model.get_base_model().named_parameters():
        if "lora_" not in name:
            torch.testing.assert_close(param, original[name.replace("base_layer.", "")])


def test_no_checkpoint_is_written_twice_at_one_step(home, monkeypatch):
    """An epoch that ends on a save step saved its checkpoint again, in place: a SIGKILL in the
    second save left trainer_state.json beside a truncated optimizer.pt, and `run --resume`
    died on it with EOFError (CI, tests/reliability/test_kills.py)."""
    from transformers import Trainer

    saved: list[tuple[str, int]] = []
    save = Trainer._save_checkpoint

    def recording(self, model, trial):
        saved.append((self.args.output_dir, self.state.global_step))
        return save(self, model, trial)

    monkeypatch.setattr(Trainer, "_save_checkpoint", recording)
    run(home, max_steps=2, save_steps=1)
    dpo = run(
        home,
        request=TrainRequest(method="dpo", show_progress=False),
        max_steps=100,
        dpo_epochs=2,
        save_steps=1,
    )
    assert dpo.steps >= 2 and len(saved) >= 2 + dpo.steps
    assert len(saved) == len(set(saved)), saved
