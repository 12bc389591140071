"""Decode throughput of a randomly initialized Llama with bitjit int4 (group 128) linear layers against
the same model in fp16 (transformers, no download; random weights time like real ones).

    python bench/llama_decode.py [--batch 1 16] [--new-tokens 64] [--layers 16] [--json out.json]

Decode tokens/s = batch * (new_tokens - 1) / (time of generate(new_tokens) - time of generate(1)): the
prompt's prefill and the first token cancel out. Greedy decoding, KV cache, eager PyTorch; each time
is the median of --repeats runs after a warm-up. The model's shape defaults to a 1.1B Llama (hidden
2048, intermediate 5632, 32 heads, 4 KV heads) with --layers layers.
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
    print(f"{'batch':>5} {'fp16 tok/s':>11} {'bitjit tok/s':>13} {'speedup':>8}")
    for batch in args.batch:
        base = decode_tokens_per_second(fp16, batch, args)
        ours = decode_tokens_per_second(quantized, batch, args)
        results["decode_tokens_per_s"][str(batch)] = {"fp16": round(base, 1), "bitjit_int4": round(ours, 1)}
        print(f"{batch:>5} {base:>11.1f} {ours:>13.1f} {ours / base:>7.2f}x")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
