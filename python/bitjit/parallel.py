"""Tensor parallelism with bitjit.Linear on torch.distributed (one process per GPU, e.g. torchrun, NCCL).

ColumnParallelLinear holds rows [r*N/P, (r+1)*N/P) of W (output features) on rank r of P, with their
scales, zeros and bias, and all-gathers the outputs (or hands its shard on, gather_output=False).
RowParallelLinear holds columns [r*K/P, (r+1)*K/P) of W (input features): each shard is a whole number
of quantization groups, so the shard's scales and zeros are the groups' own; the partial products are
all-reduced, the bias added once after. Column then row parallel (the Megatron MLP) needs one
all-reduce per MLP and no gather in between.

The weights are quantized whole, once, then sharded: codes, scales and zeros of each shard are bit
for bit those of the unsharded layer, so the sharded model computes the same weights.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist

from . import ConfigError, MatmulConfig, quantization

__all__ = ["ColumnParallelLinear", "RowParallelLinear", "shard_quantized"]


def shard_quantized(config: MatmulConfig, quantized: dict, bias, dim: int, rank: int, world_size: int) -> dict:
    """Rank `rank`'s share of a quantized layer (quantization.quantize's W, scales, zeros; bias [N] or
    None): dim 0 splits the output features N, dim 1 the input features K at group boundaries."""
    if config.zeros_mode == "quantized":
        raise ConfigError("tensor parallel layers take zeros_mode 'original' or 'rescale'; got 'quantized'")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank} is outside [0, world_size={world_size})")
    bits = quantized["W"].shape[1] * 8 // config.K  # packed bytes per row: K * bits / 8
    if dim == 0:
        if config.N % world_size:
            raise ConfigError(f"out_features={config.N} does not split into {world_size} equal shards")
        rows = slice(rank * config.N // world_size, (rank + 1) * config.N // world_size)
        return {"K": config.K, "N": config.N // world_size, "W": quantized["W"][rows],
                "scales": None if quantized["scales"] is None else quantized["scales"][rows],
                "zeros": None if quantized["zeros"] is None else quantized["zeros"][rows],
                "bias": None if bias is None else bias[rows]}
    if not config.with_scaling:
        group = 8  # no groups: any boundary on whole bytes of packed codes
    elif config.group_size in (None, -1):
        raise ConfigError("a row-parallel layer needs group scales (a group_size dividing in_features / world_size): "
                          "one scale per channel would span every shard")
    else:
        group = config.group_size
    shard = config.K // world_size
    if config.K % world_size or shard % group:
        raise ConfigError(f"in_features={config.K} does not split into {world_size} shards of whole groups of "
                          f"{group} (each shard's scales and zeros must be its groups' own)")
    columns = slice(rank * shard * bits // 8, (rank + 1) * shard * bits // 8)
    groups = slice(rank * shard // group, (rank + 1) * shard // group)
    return {"K": shard, "N": config.N, "W": quantized["W"][:, columns],
            "scales": None if quantized["scales"] is None else quantized["scales"][:, groups],
            "zeros": None if quantized["zeros"] is None else quantized["zeros"][:, groups],
            "bias": bias}


def _shard_linear(linear: torch.nn.Linear, dim: int, rank: int, world_size: int, W_dtype: str, group_size: int,
                  with_zeros: bool, opt_M: Optional[Sequence[int]], target: Optional[str], device, keep_bias: bool):
    """A bitjit.Linear holding rank's shard of `linear` quantized whole (and the shard's bias, if kept)."""
    from . import Linear
    dtype = str(linear.weight.dtype).replace("torch.", "")
    config = MatmulConfig(M=1, N=linear.out_features, K=linear.in_features, A_dtype=dtype, W_dtype=W_dtype,
                          accum_dtype="float32", out_dtype=dtype, group_size=group_size, with_scaling=True,
                          with_zeros=with_zeros)
    quantized = quantization.quantize(config, linear.weight.detach().float().cpu().numpy())
    bias = None if linear.bias is None else linear.bias.detach().cpu().numpy()
    share = shard_quantized(config, quantized, bias if keep_bias else None, dim, rank, world_size)
    layer = Linear(share["K"], share["N"], bias=share["bias"] is not None, A_dtype=dtype, W_dtype=W_dtype,
                   accum_dtype="float32", out_dtype=dtype, group_size=group_size, with_scaling=True,
                   with_zeros=with_zeros, opt_M=opt_M, target=target)
    layer._store(layer._weight_name, layer.matmul.transform_packed_weight(np.ascontiguousarray(share["W"])))
    layer._store("scales", None if share["scales"] is None else np.ascontiguousarray(share["scales"]))
    layer._store("zeros", None if share["zeros"] is None else np.ascontiguousarray(share["zeros"]))
    layer._store("bias", share["bias"])
    return layer.to(device), bias


class ColumnParallelLinear(torch.nn.Module):
    """y = x · Wᵀ + b with W's rows (output features) split over the ranks of `group`."""

    def __init__(self, local: torch.nn.Module, world_size: int, gather_output: bool = True, group=None) -> None:
        super().__init__()
        self.local, self.world_size, self.gather_output, self.group = local, world_size, gather_output, group

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear, rank: int, world_size: int, W_dtype: str = "int4",
                    group_size: int = 128, with_zeros: bool = False, gather_output: bool = True, group=None,
                    opt_M: Optional[Sequence[int]] = None, target: Optional[str] = None, device=None):
        local, _ = _shard_linear(linear, 0, rank, world_size, W_dtype, group_size, with_zeros, opt_M, target, device,
                                 keep_bias=True)
        return cls(local, world_size, gather_output, group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shard = self.local(x)
        if not self.gather_output or self.world_size == 1:
            return shard
        gathered = torch.empty((self.world_size,) + tuple(shard.shape), dtype=shard.dtype, device=shard.device)
        dist.all_gather_into_tensor(gathered, shard.contiguous(), group=self.group)
        # [P, ..., N/P] -> [..., P * N/P]: rank r's features are columns r*N/P .. of the full output.
        return torch.movedim(gathered, 0, -2).reshape(*shard.shape[:-1], -1)


class RowParallelLinear(torch.nn.Module):
    """y = x · Wᵀ + b with W's columns (input features) split over the ranks of `group`; x is the local
    shard of the input (input_is_parallel=True, as a ColumnParallelLinear without gather hands it on)
    or the whole input, split here."""

    def __init__(self, local: torch.nn.Module, bias: Optional[torch.Tensor], rank: int, world_size: int,
                 input_is_parallel: bool = True, group=None) -> None:
        super().__init__()
        self.local, self.rank, self.world_size = local, rank, world_size
        self.input_is_parallel, self.group = input_is_parallel, group
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear, rank: int, world_size: int, W_dtype: str = "int4",
                    group_size: int = 128, with_zeros: bool = False, input_is_parallel: bool = True, group=None,
                    opt_M: Optional[Sequence[int]] = None, target: Optional[str] = None, device=None):
        local, bias = _shard_linear(linear, 1, rank, world_size, W_dtype, group_size, with_zeros, opt_M, target,
                                    device, keep_bias=False)
        bias_tensor = None if bias is None else torch.from_numpy(bias).to(device=device, dtype=linear.weight.dtype)
        return cls(local, bias_tensor, rank, world_size, input_is_parallel, group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.input_is_parallel:
            shard = x.shape[-1] // self.world_size
            x = x[..., self.rank * shard:(self.rank + 1) * shard].contiguous()
        y = self.local(x)
        if self.world_size > 1:
            dist.all_reduce(y, group=self.group)
        return y if self.bias is None else y + self.bias
