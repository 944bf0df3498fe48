"""Training plans: backend, precision, quantization and fit, from hardware and model size."""

from __future__ import annotations

from personaforge.bases import BaseInfo
from personaforge.config import TrainSettings
from personaforge.train.plan import Accelerator, GiB, estimate_training_memory, plan_training

LLAMA_8B = BaseInfo(
    parameters=8_030_261_248,
    parameters_source="config.json",
    hidden_size=4096,
    num_layers=32,
    vocab_size=128_256,
    config={
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "model_type": "llama",
    },
)
CPU = Accelerator("cpu", "test cpu", 24 * GiB, cpu_cores=2)


def gpu(gib: float, bf16: bool = True) -> Accelerator:
    return Accelerator("cuda", "test gpu", int(gib * GiB), 1, bf16, 16)


def test_cpu_plan_is_fp32_lora_without_checkpointing():
    tiny = BaseInfo(
        parameters=1_350_000, parameters_source="x", hidden_size=128, num_layers=4, vocab_size=2400
    )
    plan = plan_training(
        TrainSettings(), CPU, tiny, "llama", have_bitsandbytes=False, have_unsloth=False
    )
    assert (plan.backend, plan.precision, plan.quantization, plan.gradient_checkpointing) == (
        "hf",
        "fp32",
        "none",
        False,
    )
    assert plan.fits and not plan.problems
    assert any("2.4x slower" in reason for reason in plan.reasons)


def test_8b_on_a_24gb_gpu_chooses_qlora_and_unsloth_when_available():
    # Defaults (batch 4 x 2048 tokens): 16-bit needs ~27 GiB even with checkpointing.
    plan = plan_training(
        TrainSettings(), gpu(24), LLAMA_8B, "llama", have_bitsandbytes=True, have_unsloth=True
    )
    assert plan.quantization == "4bit" and plan.backend == "unsloth" and plan.precision == "bf16"
    assert plan.gradient_checkpointing and plan.fits, plan.problems
    assert any("would not fit" in reason for reason in plan.reasons)


def test_8b_with_a_small_batch_fits_16_bit_on_24gb():
    settings = TrainSettings(batch_size=2, max_seq_length=1024)
    plan = plan_training(
        settings, gpu(24), LLAMA_8B, "llama", have_bitsandbytes=True, have_unsloth=False
    )
    assert plan.quantization == "none" and plan.gradient_checkpointing and plan.fits


def test_8b_on_an_80gb_gpu_stays_16_bit():
    plan = plan_training(
        TrainSettings(batch_size=2, max_seq_length=1024),
        gpu(80),
        LLAMA_8B,
        "llama",
        have_bitsandbytes=True,
        have_unsloth=False,
    )
    assert plan.quantization == "none" and plan.backend == "hf" and plan.fits
    assert any("unsloth is not installed" in reason for reason in plan.reasons)


def test_prequantized_checkpoint_forces_4bit_and_needs_bitsandbytes():
    info = BaseInfo(**{**LLAMA_8B.__dict__, "prequantized_bits": 4})
    plan = plan_training(
        TrainSettings(batch_size=1, max_seq_length=512),
        gpu(24),
        info,
        "llama",
        have_bitsandbytes=False,
        have_unsloth=False,
    )
    assert plan.quantization == "4bit"
    assert any("bitsandbytes" in problem for problem in plan.problems)


def test_a_batch_that_does_not_fit_is_split_keeping_the_rows_per_update():
    # 8B in 4-bit at 4 x 2048 tokens needs about 19 GiB: on 16 GB the plan splits the batch.
    plan = plan_training(
        TrainSettings(), gpu(16), LLAMA_8B, "llama", have_bitsandbytes=True, have_unsloth=False
    )
    assert plan.fits and not plan.problems and plan.quantization == "4bit"
    assert (plan.batch_size, plan.grad_accum) == (2, 8)
    assert any(r.startswith("batch 2 x accumulation 8 (16 rows per update)") for r in plan.reasons)
    applied = plan.applied(TrainSettings())
    assert (applied.batch_size, applied.grad_accum) == (2, 8)
    roomy = plan_training(
        TrainSettings(), gpu(80), LLAMA_8B, "llama", have_bitsandbytes=True, have_unsloth=False
    )
    assert (roomy.batch_size, roomy.grad_accum) == (4, 4)  # fits as set: left as set
    assert roomy.applied(TrainSettings()) == TrainSettings()


def test_a_plan_that_does_not_fit_names_fixes_that_would():
    plan = plan_training(
        TrainSettings(), gpu(10), LLAMA_8B, "llama", have_bitsandbytes=True, have_unsloth=False
    )
    assert not plan.fits and plan.quantization == "4bit" and plan.gradient_checkpointing
    assert plan.batch_size == 1  # split as far as it goes, and still too big
    [problem] = [p for p in plan.problems if "would need" in p]
    assert "train.max_seq_length=1024" in problem and "train.batch_size" not in problem
    assert "GPU memory allows 9.0 GiB" in problem


def test_hopeless_fit_says_so():
    plan = plan_training(
        TrainSettings(), gpu(4), LLAMA_8B, "llama", have_bitsandbytes=True, have_unsloth=False
    )
    assert any("no single change fits" in p for p in plan.problems)


def test_unsloth_requested_without_cuda_is_a_problem():
    plan = plan_training(
        TrainSettings(backend="unsloth"),
        CPU,
        LLAMA_8B,
        "llama",
        have_bitsandbytes=False,
        have_unsloth=False,
    )
    assert any("needs a CUDA GPU" in p for p in plan.problems)


def test_unknown_size_is_reported_not_guessed():
    unknown = BaseInfo(parameters=None, parameters_source="unknown")
    plan = plan_training(
        TrainSettings(), CPU, unknown, None, have_bitsandbytes=False, have_unsloth=False
    )
    assert plan.memory is None and plan.fits is None
    assert any("size unknown" in reason for reason in plan.reasons)


def test_memory_model_orders_methods_sensibly():
    train = TrainSettings(batch_size=1, max_seq_length=1024)
    lora16 = estimate_training_memory(
        LLAMA_8B, train, weight_bits=16, activation_bytes=2, checkpointing="off"
    )
    qlora = estimate_training_memory(
        LLAMA_8B, train, weight_bits=4.127, activation_bytes=2, checkpointing="off"
    )
    ckpt = estimate_training_memory(
        LLAMA_8B, train, weight_bits=4.127, activation_bytes=2, checkpointing="on"
    )
    assert 14.5 * GiB < lora16.weights < 15.5 * GiB  # 8.03B x 2 bytes = 14.96 GiB
    assert 4.5 * GiB < qlora.weights < 6 * GiB  # NF4 body + 16-bit embeddings and head
    assert ckpt.activations < qlora.activations
    # r=16 on all seven projections of Llama-3-8B is 41.9M trainable parameters.
    assert abs(lora16.adapter_and_optimizer / 16 - 41_943_040) < 1


def test_estimates_cover_the_peaks_measured_on_an_h100():
    """Peaks from bench/train.py on an H100 (bench/RESULTS.md): batch 8, max length 512, r=16.

    An estimate under a measured peak would let a run start that then runs out of memory;
    far over it would force 4-bit or checkpointing where they are not needed.
    """
    llama_1b = BaseInfo(
        parameters=1_235_814_400,
        parameters_source="config.json",
        hidden_size=2048,
        num_layers=16,
        vocab_size=128_256,
        config={"num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 8192},
    )
    train = TrainSettings(batch_size=8, max_seq_length=512, lora_rank=16, lora_alpha=32)
    measured = [  # (base, weight bits, checkpointing, peak bytes)
        (LLAMA_8B, 4.127, "off", 41_659_282_944),
        (LLAMA_8B, 4.127, "on", 8_492_993_024),
        (llama_1b, 16, "off", 12_546_632_704),
    ]
    for info, bits, checkpointing, peak in measured:
        estimate = estimate_training_memory(
            info, train, weight_bits=bits, activation_bytes=2, checkpointing=checkpointing
        ).total
        assert peak <= estimate <= 1.7 * peak, (info.hidden_size, bits, checkpointing)


def test_offloaded_checkpointing_when_only_it_fits_at_the_batch_set():
    # 8B QLoRA at 4 x 2048 tokens: about 18.6 GiB with checkpointing on, 16.6 offloaded.
    train = TrainSettings()
    tight = plan_training(train, gpu(20), LLAMA_8B, "llama", have_bitsandbytes=True)
    assert (tight.quantization, tight.checkpointing, tight.batch_size) == ("4bit", "offload", 4)
    assert tight.gradient_checkpointing and tight.fits, tight.problems
    assert any("host memory" in reason for reason in tight.reasons)
    roomy = plan_training(train, gpu(22), LLAMA_8B, "llama", have_bitsandbytes=True)
    assert (roomy.checkpointing, roomy.batch_size) == ("on", 4)
    offloaded = estimate_training_memory(
        LLAMA_8B, train, weight_bits=4.127, activation_bytes=2, checkpointing="offload"
    )
    assert offloaded.total == tight.memory.total < roomy.memory.total


def test_offload_asked_for_without_cuda_is_a_problem_and_offered_as_a_fix_on_cuda():
    tiny = BaseInfo(
        parameters=1_350_000, parameters_source="x", hidden_size=128, num_layers=4, vocab_size=2400
    )
    on_cpu = plan_training(TrainSettings(gradient_checkpointing="offload"), CPU, tiny, "llama")
    assert on_cpu.checkpointing == "offload"
    assert any("offload needs a CUDA GPU" in p for p in on_cpu.problems)
    # Checkpointing turned off by hand on a GPU it does not fit: offloading is a named fix.
    too_big = plan_training(
        TrainSettings(gradient_checkpointing="off", quantization="4bit"),
        gpu(20),
        LLAMA_8B,
        "llama",
        have_bitsandbytes=True,
    )
    [problem] = [p for p in too_big.problems if "would need" in p]
    assert "train.gradient_checkpointing=offload" in problem


def test_offloaded_checkpointing_reaches_the_trainer_as_transformers_names_it(tmp_path):
    from trl import SFTConfig

    from personaforge.train.plan import TrainingPlan
    from personaforge.train.trainers import checkpointing_kwargs

    assert checkpointing_kwargs(TrainingPlan("hf", "cuda", "bf16", "4bit", "on", None, 0)) == {}
    unsloth = TrainingPlan("unsloth", "cuda", "bf16", "4bit", "offload", None, 0)
    assert checkpointing_kwargs(unsloth) == {}  # its own offloaded checkpointing
    kwargs = checkpointing_kwargs(TrainingPlan("hf", "cuda", "bf16", "4bit", "offload", None, 0))
    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, gradient_checkpointing=True, **kwargs)
    assert args.activation_checkpointing and args.activation_checkpointing_kwargs == {
        "offload": True
    }


def test_liger_kernels_apply_only_to_the_hf_backend_on_cuda_with_the_package(monkeypatch):
    tiny = BaseInfo(
        parameters=1_350_000, parameters_source="x", hidden_size=128, num_layers=4, vocab_size=2400
    )
    assert not plan_training(TrainSettings(), gpu(80), tiny, "llama").liger_kernel  # off unless set
    on_cpu = plan_training(TrainSettings(liger_kernel=True), CPU, tiny, "llama")
    assert not on_cpu.liger_kernel
    assert any("liger_kernel needs a CUDA GPU" in p for p in on_cpu.problems)

    def on_gpu(backend: str, liger_installed: bool):
        installed = {"liger_kernel": liger_installed, "unsloth": True}
        monkeypatch.setattr(
            "personaforge.train.plan.package_available", lambda name: installed.get(name, False)
        )
        return plan_training(
            TrainSettings(liger_kernel=True, backend=backend), gpu(80), tiny, "llama"
        )

    hf = on_gpu("hf", True)
    assert hf.liger_kernel and not hf.problems
    missing = on_gpu("hf", False)
    assert not missing.liger_kernel
    assert any("pip install liger-kernel" in p for p in missing.problems)
    unsloth = on_gpu("auto", True)
    assert unsloth.backend == "unsloth" and not unsloth.liger_kernel and not unsloth.problems


def test_offload_on_a_transformers_without_it_is_a_problem_and_auto_keeps_it_on(monkeypatch):
    monkeypatch.setattr("personaforge.train.plan.offload_supported", lambda: False)
    train = TrainSettings()
    auto = plan_training(train, gpu(20), LLAMA_8B, "llama", have_bitsandbytes=True)
    assert auto.checkpointing == "on"  # the batch is split instead
    asked = plan_training(
        TrainSettings(gradient_checkpointing="offload"),
        gpu(20),
        LLAMA_8B,
        "llama",
        have_bitsandbytes=True,
    )
    assert any("needs a newer transformers" in p for p in asked.problems)
