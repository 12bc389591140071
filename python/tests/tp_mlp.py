"""Tensor-parallel MLP of bitjit.Linear layers over NCCL, checked against the unsharded layers.

    torchrun --nproc_per_node=2 python/tests/tp_mlp.py [--out results.json]

Each rank quantizes the same float layers (int4, group 128), keeps its shard (bitjit.parallel): the
up projection column-parallel (output features split, no gather), SiLU, the down projection
row-parallel (input features split at group boundaries, one all-reduce), then a column-parallel
layer with all-gather. Rank 0 runs the unsharded bitjit layers on its GPU as the reference, and
times one TP MLP step against that single-GPU step. Exit status 0 when every check passes.
NCCL's NVLink SHARP (multicast objects) is kept off: NCCL_NVLS_ENABLE=0.
"""
import argparse
import json
import os
import sys

os.environ["NCCL_NVLS_ENABLE"] = "0"  # before NCCL initializes: no multicast objects

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import bitjit  # noqa: E402
from bitjit.parallel import ColumnParallelLinear, RowParallelLinear  # noqa: E402

HIDDEN, INTERMEDIATE, OUT, ROWS = 1024, 4096, 512, 16


def float_layers(seed: int):
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for inputs, outputs in ((HIDDEN, INTERMEDIATE), (INTERMEDIATE, HIDDEN), (HIDDEN, OUT)):
        layer = torch.nn.Linear(inputs, outputs, bias=True)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / inputs ** 0.5)
            layer.bias.copy_(torch.randn(outputs, generator=generator) * 0.1)
        layers.append(layer.half())
    return layers


def median_ms(step, repeats: int = 50) -> float:
    for _ in range(5):
        step()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", help="write the results as JSON here (rank 0)")
    args = parser.parse_args()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", device_id=device)
    seed = torch.randint(0, 2 ** 31 - 1, (1,), device=device)
    dist.broadcast(seed, src=0)  # every rank quantizes the same layers
    up, down, head = float_layers(int(seed.item()))
    options = dict(W_dtype="int4", group_size=128, device=device)
    tp_up = ColumnParallelLinear.from_linear(up, rank, world, gather_output=False, **options)
    tp_down = RowParallelLinear.from_linear(down, rank, world, **options)
    tp_head = ColumnParallelLinear.from_linear(head, rank, world, gather_output=True, **options)

    x = torch.randn(ROWS, HIDDEN, generator=torch.Generator().manual_seed(int(seed.item()) + 1)).half().to(device)
    with torch.no_grad():
        def tp_step():
            return tp_down(torch.nn.functional.silu(tp_up(x)))
        tp_mlp = tp_step()
        tp_logits = tp_head(tp_mlp)
        results = {"world_size": world, "rows": ROWS, "hidden": HIDDEN, "intermediate": INTERMEDIATE}
        failures = []
        if rank == 0:
            single = [bitjit.Linear.from_linear(layer.to(device), W_dtype="int4", group_size=128)
                      for layer in (up, down, head)]

            def single_step():
                return single[1](torch.nn.functional.silu(single[0](x)))
            reference = single_step()
            reference_logits = single[2](reference)
            # Same weights; the row-parallel sum adds fp16-rounded partial products (one rounding of
            # 2^-11 relative per rank) where the single layer rounds once: bound 2^-10 of the partials'
            # magnitude, taken as |reference| plus the spread of the sum.
            scale = reference.abs().max().item()
            mlp_error = (tp_mlp - reference).abs().max().item()
            head_error = (tp_logits - reference_logits).abs().max().item()
            results.update(mlp_max_error=mlp_error, mlp_scale=scale, head_max_error=head_error,
                           head_scale=reference_logits.abs().max().item())
            if mlp_error > 2.0 ** -9 * scale * world:
                failures.append(f"TP MLP differs from the single-GPU MLP by {mlp_error} (scale {scale})")
            # The head's gather concatenates exact shards of the same kernels' outputs; its input
            # differs only as the MLP output does.
            if head_error > 2.0 ** -8 * results["head_scale"] * world:
                failures.append(f"TP head (all-gather) differs by {head_error}")
            results["single_gpu_mlp_ms"] = median_ms(single_step)
        dist.barrier()
        tp_ms = median_ms(tp_step)  # every rank times: the collectives need them all
        if rank == 0:
            results["tp_mlp_ms"] = tp_ms
            print(json.dumps(results, indent=2))
            if args.out:
                with open(args.out, "w") as file:
                    json.dump(results, file, indent=2)
            for failure in failures:
                print("FAILED:", failure, file=sys.stderr)
    status = torch.tensor([len(failures) if rank == 0 else 0], device=device)
    dist.broadcast(status, src=0)
    dist.destroy_process_group()
    return int(status.item() != 0)


if __name__ == "__main__":
    sys.exit(main())
