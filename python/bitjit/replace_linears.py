"""bitjit.quantize_model: a model's torch.nn.Linear layers replaced in place by bitjit.Linear."""
from __future__ import annotations

import fnmatch
from typing import List, Sequence

import torch

from . import ConfigError


def skipped(name: str, skip: Sequence[str]) -> bool:
    """Whether a layer's qualified name ("model.layers.0.mlp.up_proj") matches a skip pattern: an
    fnmatch pattern against the whole name or against its last part ("lm_head")."""
    last = name.rsplit(".", 1)[-1]
    return any(fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(last, pattern) for pattern in skip)


def replace_module(model: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def quantize_model(model: torch.nn.Module, W_dtype: str = "int4", group_size: int = 128,
                   skip: Sequence[str] = ("lm_head",), **options) -> List[str]:
    """Quantizes each torch.nn.Linear of `model` whose name matches no `skip` pattern with bitjit's
    quantizers (W_dtype, group_size; options go to bitjit.Linear.from_linear: with_zeros, zeros_mode,
    opt_M, target) and puts the bitjit.Linear in its place, on the layer's device. Activations and
    output keep the layer's dtype (float16 or bfloat16). Returns the replaced layers' names. A layer
    bitjit cannot hold (e.g. in_features not a multiple of group_size) raises ConfigError naming it."""
    from . import Linear
    replaced = []
    for name, module in list(model.named_modules()):
        if type(module) is not torch.nn.Linear or skipped(name, skip):
            continue
        try:
            layer = Linear.from_linear(module, W_dtype=W_dtype, group_size=group_size, **options)
        except ValueError as error:
            raise ConfigError(f"quantize_model: layer {name} ({module.in_features} -> {module.out_features}, "
                              f"{module.weight.dtype}): {error}") from error
        replace_module(model, name, layer)
        replaced.append(name)
    return replaced
