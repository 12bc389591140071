"""Decode throughput of a randomly initialized Llama with bitjit int4 (group 128) linear layers against
the same model in fp16 (transformers, no download; random weights time like real ones).

    python bench/llama_decode.py [--batch 1 16] [--new-tokens 64] [--layers 16] [--mode eager graph]
                                 [--json out.json]

eager: decode tokens/s = batch * (new_tokens - 1) / (time of generate(new_tokens) - time of
generate(1)): the prompt's prefill and the first token cancel out. Greedy decoding, KV cache, eager
PyTorch; each time is the median of --repeats runs after a warm-up.
graph: one decode step (a token per sequence; transformers' StaticCache, whose fill position is a
device tensor the step advances) captured in a CUDA graph and replayed new_tokens times, the argmax
of each step fed to the next; tokens/s = batch * new_tokens / time of the replays (median of
--repeats, after a warm-up round), so the host's per-layer Python work is gone and the GPU's time
shows. The rounds follow one another in one cache sized for all of them.
The model's shape defaults to a 1.1B Llama (hidden 2048, intermediate 5632, 32 heads, 4 KV heads)
with --layers layers.
"""
import argparse
import copy
import json
import statistics
import time

import torch
import transformers

import bitjit


def build(args) -> transformers.LlamaForCausalLM:
    config = transformers.LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden,
                                      intermediate_size=args.intermediate, num_hidden_layers=args.layers,
                                      num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                                      max_position_embeddings=4096, tie_word_embeddings=False)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).half().eval()


def generate_seconds(model, ids, new_tokens: int, repeats: int) -> float:
    def once():
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - start
    once()
    return statistics.median(once() for _ in range(repeats))


@torch.no_grad()
def decode_tokens_per_second(model, batch: int, args) -> float:
    ids = torch.randint(0, args.vocab, (batch, args.prompt), device="cuda")
    full = generate_seconds(model, ids, args.new_tokens, args.repeats)
    first = generate_seconds(model, ids, 1, args.repeats)
    return batch * (args.new_tokens - 1) / (full - first)


def static_cache(model, batch: int, length: int):
    """transformers' StaticCache; its constructor lost max_batch_size (sized on first use) in 5.x."""
    try:
        return transformers.StaticCache(config=model.config, max_batch_size=batch, max_cache_len=length,
                                        device="cuda", dtype=torch.float16)
    except TypeError:
        return transformers.StaticCache(config=model.config, max_cache_len=length)


@torch.no_grad()
def graph_tokens_per_second(model, batch: int, args) -> float:
    """Replays of one captured decode step over a static KV cache (see the module's docstring)."""
    rounds = args.repeats + 1
    cache = static_cache(model, batch, args.prompt + 2 + rounds * args.new_tokens)  # prompt, warm-up, rounds
    ids = torch.randint(0, args.vocab, (batch, args.prompt), device="cuda")
    prefill = model(ids, past_key_values=cache, cache_position=torch.arange(args.prompt, device="cuda"),
                    use_cache=True)
    token = prefill.logits[:, -1:].argmax(-1)
    position = torch.tensor([args.prompt], device="cuda")

    def step():
        logits = model(token, past_key_values=cache, cache_position=position, use_cache=True).logits
        token.copy_(logits[:, -1:].argmax(-1))
        position.add_(1)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture: kernels loaded, allocator primed
        for _ in range(2):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()

    def once():
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.new_tokens):
            graph.replay()
        torch.cuda.synchronize()
        return time.perf_counter() - start
    once()
    return batch * args.new_tokens / statistics.median(once() for _ in range(args.repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--intermediate", type=int, default=5632)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--mode", nargs="+", choices=("eager", "graph"), default=["eager", "graph"])
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA device")

    fp16 = build(args)
    quantized = copy.deepcopy(fp16)
    started = time.perf_counter()
    # Decode runs M = batch rows; prefill M = batch * prompt (above the largest bucket: its kernel).
    replaced = bitjit.quantize_model(quantized, W_dtype="int4", group_size=128, skip=["lm_head"],
                                     opt_M=sorted({1, *args.batch, 256}))
    setup_seconds = time.perf_counter() - started
    fp16, quantized = fp16.cuda(), quantized.cuda()

    results = {"device": torch.cuda.get_device_name(), "layers_quantized": len(replaced),
               "quantize_and_compile_s": round(setup_seconds, 1), "shape": {k: getattr(args, k) for k in (
                   "layers", "hidden", "intermediate", "heads", "kv_heads", "vocab", "prompt", "new_tokens")},
               "decode_tokens_per_s": {}}
    print(f"{results['device']}: {len(replaced)} linear layers in bitjit int4 g128 ({setup_seconds:.0f} s to "
          f"quantize and compile)")
    print(f"{'mode':>5} {'batch':>5} {'fp16 tok/s':>11} {'bitjit tok/s':>13} {'speedup':>8}")
    measure = {"eager": decode_tokens_per_second, "graph": graph_tokens_per_second}
    for mode in args.mode:
        for batch in args.batch:
            base = measure[mode](fp16, batch, args)
            ours = measure[mode](quantized, batch, args)
            results["decode_tokens_per_s"][f"{mode} {batch}"] = {"fp16": round(base, 1), "bitjit_int4": round(ours, 1)}
            print(f"{mode:>5} {batch:>5} {base:>11.1f} {ours:>13.1f} {ours / base:>7.2f}x")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
