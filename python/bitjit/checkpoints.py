"""GPTQ and AWQ checkpoints, as their safetensors files store them, into bitjit.Linear layers.

For each linear layer `<name>` such a file holds `<name>.qweight`, `<name>.qzeros`, `<name>.scales`
(and for GPTQ maybe `<name>.g_idx`, and `<name>.bias`); the other tensors (embeddings, norms, an
unquantized lm_head) are ordinary weights. bitjit.quantization.from_gptq / from_awq convert a layer
without requantizing (docs/formats.md); GPTQ's act-order (desc_act=True, a g_idx whose groups are
not runs of K) becomes a permutation of K that the layer applies to its input's columns.

GPTQ: 2, 3, 4 and 8 bits (3-bit layers load as uint4: bitjit has no 3-bit format), symmetric or not
(both store their zero points); AWQ: 4-bit GEMM format. Activations and output are float16, as the checkpoints' scales.
"""
from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from . import ConfigError, quantization

Tensors = Mapping[str, Union[np.ndarray, torch.Tensor]]
_METHODS = ("gptq", "awq")


def read_safetensors(paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]) -> Dict[str, np.ndarray]:
    """Every tensor of one or more .safetensors files (a sharded checkpoint), as numpy arrays."""
    try:
        from safetensors.numpy import load_file
    except ImportError as error:
        raise ImportError("reading .safetensors files needs the safetensors package (pip install safetensors)") from error
    tensors: Dict[str, np.ndarray] = {}
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else list(paths):
        for name, array in load_file(os.fspath(path)).items():
            if name in tensors:
                raise ValueError(f"{os.fspath(path)}: tensor {name} is in more than one file")
            tensors[name] = array
    return tensors


def _numpy(tensors: Tensors, name: str) -> np.ndarray:
    value = tensors[name]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def convert_layer(tensors: Tensors, prefix: str, method: str, in_features: int,
                  zeros_stored_minus_one: bool = True) -> dict:
    """One layer's tensors `<prefix>.qweight` ... -> bitjit operands (quantization.from_gptq / from_awq's
    dict, plus "bias" or None). GPTQ's bit width follows from qweight's rows and in_features."""
    if method not in _METHODS:
        raise ValueError(f"method={method!r}; allowed: {', '.join(_METHODS)}")
    qweight = _numpy(tensors, prefix + ".qweight")
    qzeros = _numpy(tensors, prefix + ".qzeros")
    scales = _numpy(tensors, prefix + ".scales")
    if method == "gptq":
        rows = qweight.shape[0] if qweight.ndim == 2 else 0
        bits = 32 * rows // in_features if rows and (32 * rows) % in_features == 0 else 0
        if bits == 0:
            raise ConfigError(f"{prefix}.qweight has shape {tuple(qweight.shape)}; a GPTQ layer with in_features="
                              f"{in_features} stores [in_features * bits / 32, out_features]")
        g_idx = _numpy(tensors, prefix + ".g_idx") if prefix + ".g_idx" in tensors else None
        try:
            layer = quantization.from_gptq(qweight, qzeros, scales, bits=bits, g_idx=g_idx,
                                           zeros_stored_minus_one=zeros_stored_minus_one)
        except ValueError as error:
            raise ConfigError(f"{prefix}: {error}") from error
    else:
        if qweight.ndim != 2 or qweight.shape[0] != in_features:
            raise ConfigError(f"{prefix}.qweight has shape {tuple(qweight.shape)}; an AWQ layer with in_features="
                              f"{in_features} stores [in_features, out_features / 8]")
        try:
            layer = quantization.from_awq(qweight, qzeros, scales)
        except ValueError as error:
            raise ConfigError(f"{prefix}: {error}") from error
    layer["bias"] = _numpy(tensors, prefix + ".bias") if prefix + ".bias" in tensors else None
    return layer


def linear_from_layer(layer: dict, opt_M: Optional[Sequence[int]] = None, target: Optional[str] = None,
                      device=None):
    """A bitjit.Linear holding a converted layer (convert_layer's dict), on `device`."""
    from . import Linear
    config = layer["config"]
    linear = Linear(config["K"], config["N"], bias=layer["bias"] is not None, A_dtype="float16",
                    W_dtype=config["W_dtype"], accum_dtype="float32", out_dtype="float16",
                    group_size=config["group_size"], with_scaling=True, with_zeros=True, zeros_mode="original",
                    opt_M=opt_M, target=target)
    linear._store(linear._weight_name, linear.matmul.transform_packed_weight(layer["W"]))
    linear._store("scales", layer["scales"])
    linear._store("zeros", layer["zeros"])
    linear._store("bias", None if layer["bias"] is None else np.asarray(layer["bias"], dtype=np.float16))
    if layer["perm"] is not None:
        linear.set_input_permutation(layer["perm"])
    return linear if device is None else linear.to(device)


def load_quantized(model: torch.nn.Module, checkpoint, method: str, zeros_stored_minus_one: bool = True,
                   opt_M: Optional[Sequence[int]] = None, target: Optional[str] = None, device=None) -> List[str]:
    """Loads a GPTQ (method="gptq") or AWQ ("awq") checkpoint into `model`: each torch.nn.Linear whose
    name has a `.qweight` in the checkpoint becomes a bitjit.Linear holding that layer (on `device`,
    default the replaced layer's), and every other tensor loads through load_state_dict (a missing or
    unexpected one is an error). checkpoint: .safetensors path(s) or a name -> tensor mapping.
    zeros_stored_minus_one=False for "gptq_v2" checkpoints. Returns the replaced layers' names."""
    from .replace_linears import replace_module
    tensors = checkpoint if isinstance(checkpoint, Mapping) else read_safetensors(checkpoint)
    quantized = {name[: -len(".qweight")] for name in tensors if name.endswith(".qweight")}
    replaced = []
    for name, module in list(model.named_modules()):
        if name not in quantized:
            continue
        if type(module) is not torch.nn.Linear:
            raise ConfigError(f"{name}: the checkpoint quantizes it but the model's module is a {type(module).__name__}")
        layer = convert_layer(tensors, name, method, module.in_features, zeros_stored_minus_one)
        if (layer["config"]["K"], layer["config"]["N"]) != (module.in_features, module.out_features):
            raise ConfigError(f"{name}: the checkpoint's layer is {layer['config']['K']} -> {layer['config']['N']}, "
                              f"the model's {module.in_features} -> {module.out_features}")
        target_device = module.weight.device if device is None else device
        replace_module(model, name, linear_from_layer(layer, opt_M, target, target_device))
        replaced.append(name)
    missing = quantized.difference(replaced)
    if missing:
        raise ConfigError(f"the checkpoint quantizes layers the model lacks: {', '.join(sorted(missing))}")
    suffixes = (".qweight", ".qzeros", ".scales", ".g_idx", ".bias")
    rest = {name: torch.as_tensor(_numpy(tensors, name)) for name in tensors
            if not (name.endswith(suffixes) and name.rsplit(".", 1)[0] in quantized)}
    result = model.load_state_dict(rest, strict=False)
    # The bitjit layers' buffers are loaded already; anything else missing is the checkpoint's gap.
    missing_weights = [key for key in result.missing_keys if key.rsplit(".", 1)[0] not in quantized]
    if missing_weights or result.unexpected_keys:
        raise ConfigError(f"the checkpoint does not fit the model: missing {missing_weights}, unexpected "
                          f"{list(result.unexpected_keys)}")
    return replaced
