"""A real model end to end on the GPU: a small randomly initialized Llama (transformers, no download)
with its linear layers in bitjit (int4 g128 by quantize_model, and uint4 from a GPTQ act-order
checkpoint of it), generating with model.generate, eager and under torch.compile.

The reference is the same model run in float32 on the exact dequantized weights. The bound on the
logits comes from the model itself: the fp16 model on the same weights (the issue's reference) differs
from float32 by d16, its own rounding through every layer; bitjit's fp16 activations with float32
accumulation must stay within 2 * d16 + 0.01 of float32. Argmax agreement is required wherever the
float32 top-2 margin exceeds twice that bound (closer logits may swap under any fp16 rounding)."""
import copy
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device for torch", allow_module_level=True)

import bitjit  # noqa: E402
from checkpoint_layouts import gptq_quantize  # noqa: E402

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def small_llama(seed: int):
    config = transformers.LlamaConfig(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                      initializer_range=0.1, tie_word_embeddings=False)
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(config).eval()


def prompt_ids():
    """Two random prompts of 24 tokens, without the ids generate treats specially (pad 0, BOS 1, EOS 2)."""
    return torch.randint(3, 512, (2, 24), device="cuda")


def linear_names(model):
    return [name for name, module in model.named_modules() if name.endswith(PROJECTIONS)]


def with_weights(model, weights, dtype):
    """A copy of `model` in `dtype` whose projections hold `weights` (name -> float64 [N, K]); its other
    weights rounded to fp16 first, as the bitjit model holds them."""
    copied = copy.deepcopy(model).half().to(dtype)
    for name, weight in weights.items():
        copied.get_submodule(name).weight.data = torch.from_numpy(weight).to(dtype)
    return copied.cuda() if torch.cuda.is_available() else copied


@torch.no_grad()
def logits(model, ids):
    return model(ids, use_cache=False).logits.double()


def check_against_float32(name, got, truth, fp16, least_decided=0.3):
    d16 = (fp16 - truth).abs().max().item()
    bound = 2 * d16 + 0.01
    error = (got - truth).abs().max().item()
    print(f"{name}: max |logits - float32| = {error:.4f}, fp16 model's {d16:.4f}, bound {bound:.4f}, "
          f"logit range {truth.abs().max().item():.2f}")
    assert error <= bound
    top2 = truth.topk(2, dim=-1).values
    decided = (top2[..., 0] - top2[..., 1]) > 2 * bound
    assert decided.float().mean().item() >= least_decided, "too few positions with a clear argmax to check"
    assert torch.equal(got.argmax(-1)[decided], truth.argmax(-1)[decided])
    return bound


@torch.no_grad()
def cached_step_logits(model, sequence, prompt_length):
    """The logits of each step after the prompt, computed as generation does: the prompt once, then one
    token per step with the KV cache (the decode kernels, M = batch rows)."""
    out = model(sequence[:, :prompt_length], use_cache=True)
    steps, cache = [out.logits[:, -1].double()], out.past_key_values
    for position in range(prompt_length, sequence.shape[1] - 1):
        out = model(sequence[:, position:position + 1], past_key_values=cache, use_cache=True)
        steps.append(out.logits[:, -1].double())
        cache = out.past_key_values
    return torch.stack(steps, 1)


def check_generation(name, model, truth_model, fp16_model, ids):
    """Greedy generation: each new token is float32's argmax on the generated prefix where clear.
    The bound is measured on the generated sequence itself (the prompt's bound does not cover the
    positions generation adds: errors grow along the sequence, and one run's prompt bound was
    exceeded there), and the model's logits on that sequence are held to it too, without the KV cache
    and step by step with it. generate is told that every prompt token counts (else it takes the
    pad id 0 anywhere in a random prompt for padding and masks it out, which the reference does not)
    and that no token ends a sequence (a random model emits Llama's EOS id now and then, after which
    generate pads that sequence, and padding is nobody's argmax)."""
    generated = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                               pad_token_id=0, eos_token_id=None)
    assert generated.shape == (ids.shape[0], ids.shape[1] + 12)
    new = slice(ids.shape[1] - 1, -1)  # the logits that chose each generated token
    truth = logits(truth_model, generated)[:, new]
    fp16 = logits(fp16_model, generated)[:, new]
    bound = check_against_float32(f"{name} generated", logits(model, generated)[:, new], truth, fp16,
                                  least_decided=0.0)
    check_against_float32(f"{name} generated, KV cache", cached_step_logits(model, generated, ids.shape[1]), truth,
                          fp16, least_decided=0.0)
    top2 = truth.topk(2, dim=-1).values
    decided = (top2[..., 0] - top2[..., 1]) > 2 * bound
    assert torch.equal(generated[:, ids.shape[1]:][decided], truth.argmax(-1)[decided])


def run_model_checks(name, model, exact_weights, base, ids):
    truth_model = with_weights(base, exact_weights, torch.float32)
    fp16_model = with_weights(base, exact_weights, torch.float16)
    truth, fp16 = logits(truth_model, ids), logits(fp16_model, ids)
    eager = logits(model, ids)
    check_against_float32(f"{name} eager", eager, truth, fp16)
    check_generation(name, model, truth_model, fp16_model, ids)
    from torch._dynamo.utils import counters
    counters.clear()
    compiled = torch.compile(model)
    check_against_float32(f"{name} torch.compile", logits(compiled, ids), truth, fp16)
    assert not [reason for reason in counters["graph_break"] if "bitjit" in str(reason)]


def test_int4_g128_llama_matches_float32_on_its_dequantized_weights():
    base = small_llama(random.getrandbits(31)).half()
    model = copy.deepcopy(base).cuda()
    replaced = bitjit.quantize_model(model, W_dtype="int4", group_size=128, skip=["lm_head"])
    assert sorted(replaced) == sorted(linear_names(base))
    # What bitjit's quantizer made of the fp16 weights, exactly (the same quantizer, the same input).
    exact = {name: bitjit.quantization.quantize(model.get_submodule(name).config,
                                                base.get_submodule(name).weight.detach().float().numpy())["dequantized"]
             for name in replaced}
    ids = prompt_ids()
    run_model_checks("int4 g128", model, exact, base, ids)


def test_gptq_act_order_checkpoint_of_llama_matches_float32(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(random.getrandbits(32))
    base = small_llama(random.getrandbits(31))
    tensors, exact = {}, {}
    for name, parameter in base.state_dict().items():
        module_name = name.rsplit(".", 1)[0]
        if module_name.endswith(PROJECTIONS):
            layer = gptq_quantize(parameter.float().numpy(), bits=4, group_size=128, act_order=True, rng=rng)
            for field in ("qweight", "qzeros", "scales", "g_idx"):
                tensors[f"{module_name}.{field}"] = layer[field]
            exact[module_name] = layer["reference"]
        else:
            tensors[name] = parameter.half().numpy()
    safetensors.save_file(tensors, str(tmp_path / "model.safetensors"))
    model = small_llama(random.getrandbits(31)).half()  # other random weights: all must come from the file
    replaced = bitjit.load_quantized(model, tmp_path / "model.safetensors", "gptq", device="cuda")
    assert sorted(replaced) == sorted(exact)
    assert all(model.get_submodule(name).perm is not None for name in replaced)
    model = model.cuda()
    ids = prompt_ids()
    run_model_checks("GPTQ 4-bit act-order", model, exact, base, ids)
