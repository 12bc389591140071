"""bitjit.Linear: a quantized torch.nn.Module (BitBLAS's Linear names and call shapes). Built on first
access of ``bitjit.Linear`` so that importing bitjit never imports torch."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import quantization

# Operand dtype names (Matmul.operand_dtypes) -> torch dtype attribute: packed formats travel as bytes.
_TORCH_STORAGE = {"float16": "float16", "bfloat16": "bfloat16", "float32": "float32", "int8": "int8",
                  "int32": "int32"}


def make_linear_class(matmul_class, config_class):
    import torch

    from . import ops  # noqa: F401  (registers torch.ops.bitjit)

    def storage_dtype(name: str):
        return getattr(torch, _TORCH_STORAGE.get(name, "uint8"))

    class Linear(torch.nn.Module):
        """y = x · dequant(W)ᵀ (+ bias) with bitjit's kernels; x may have any leading dimensions.

        Weights come from `load_and_transform_weight` (logical integer values with their scales /
        zeros, as BitBLAS takes them), `load_from_float` (bitjit quantizes them), or
        `Linear.from_linear(torch_linear, ...)`. opt_M are the row buckets (one kernel each)."""

        def __init__(self, in_features: int, out_features: int, bias: bool = False, A_dtype: str = "float16",
                     W_dtype: str = "float16", accum_dtype: str = "float16", out_dtype: str = "float16",
                     group_size: Optional[int] = -1, with_scaling: Optional[bool] = None, with_zeros: bool = False,
                     zeros_mode: Optional[str] = None, opt_M: Optional[Sequence[int]] = None,
                     target: Optional[str] = None, enable_tuning: bool = False, **_ignored) -> None:
            super().__init__()
            self.in_features, self.out_features = int(in_features), int(out_features)
            if with_scaling is None:
                with_scaling = group_size not in (None, -1) or with_zeros
            self.config = config_class(M=list(opt_M) if opt_M else None, N=self.out_features, K=self.in_features,
                                       A_dtype=A_dtype, W_dtype=W_dtype, accum_dtype=accum_dtype,
                                       out_dtype=out_dtype, with_bias=bool(bias), group_size=group_size,
                                       with_scaling=bool(with_scaling), with_zeros=bool(with_zeros),
                                       zeros_mode=zeros_mode)
            self.matmul = matmul_class(self.config, target=target)
            if enable_tuning:
                self.matmul.hardware_aware_finetune()
            shapes = self.matmul._native.operand_shapes(1)
            dtypes = self.matmul._native.operand_dtypes(1)
            device = "cuda" if torch.cuda.is_available() else "cpu"
            for name, index in (("qweight", 1), ("scales", 2), ("zeros", 3), ("bias", 4)):
                if dtypes[index]:
                    self.register_buffer(name, torch.zeros(shapes[index], dtype=storage_dtype(dtypes[index]),
                                                           device=device))
                else:
                    setattr(self, name, None)
            # Act-order GPTQ layers: the input column of each of W's columns (set_input_permutation).
            self.register_buffer("perm", None)
            # What forward passes to torch.ops.bitjit.matmul: plain strings, constants to torch.compile.
            self._op_config, self._op_arch = self.config.canonical, self.matmul.arch
            self._loaded = False

        def set_input_permutation(self, permutation) -> None:
            """Multiplies x[..., permutation] instead of x: W's column j stands for input column
            permutation[j] (act-order GPTQ checkpoints, bitjit.quantization.from_gptq's "perm")."""
            perm = torch.as_tensor(np.asarray(permutation), dtype=torch.int64)
            if perm.shape != (self.in_features,) or not torch.equal(perm.sort().values, torch.arange(self.in_features)):
                raise ValueError(f"permutation must hold each of 0 .. {self.in_features - 1} once; got shape "
                                 f"{tuple(perm.shape)}")
            self.register_buffer("perm", perm.to(self.qweight.device))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                  error_msgs):
            # An act-order layer's state has "perm": make the buffer to load it into; loaded weights
            # make the layer usable.
            if prefix + "perm" in state_dict and self.perm is None:
                self.register_buffer("perm", torch.empty(self.in_features, dtype=torch.int64, device=self.qweight.device))
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                          error_msgs)
            if prefix + "qweight" in state_dict:
                self._loaded = True

        def _store(self, name: str, array) -> None:
            buffer = getattr(self, name)
            if array is None:
                if buffer is not None:
                    raise ValueError(f"{name} is required by this layer's config ({self.config.canonical})")
                return
            if buffer is None:
                raise ValueError(f"{name} was given but this layer's config does not use it ({self.config.canonical})")
            tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))
            if buffer.dtype in (torch.float16, torch.bfloat16, torch.float32) and tensor.dtype in (
                    torch.float16, torch.bfloat16, torch.float32, torch.float64):
                tensor = tensor.to(buffer.dtype)
            if tensor.numel() * tensor.element_size() != buffer.numel() * buffer.element_size():
                raise ValueError(f"{name} has {tuple(tensor.shape)} {tensor.dtype}; expected {tuple(buffer.shape)} "
                                 f"{buffer.dtype}")
            buffer.copy_(tensor.reshape(-1).view(torch.uint8).view(buffer.dtype).reshape(buffer.shape)
                         if tensor.dtype != buffer.dtype else tensor.reshape(buffer.shape))

        def load_and_transform_weight(self, weight, scales=None, zeros=None, bias=None) -> None:
            """weight: logical values [out, in] as int8 (e.g. int4 in [-8, 7]; codes for unsigned, nf4,
            fp4, fp8); scales / zeros [out, groups]; bias [out]."""
            self._store("qweight", self.matmul.transform_weight(weight.cpu() if isinstance(weight, torch.Tensor)
                                                                else weight))
            self._store("scales", scales)
            self._store("zeros", zeros)
            self._store("bias", bias)
            self._loaded = True

        def load_from_float(self, weight, bias=None) -> None:
            """Quantizes float weights [out, in] (bitjit's quantizers: docs/formats.md) and loads them."""
            host = weight.detach().float().cpu().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight)
            q = quantization.quantize(self.config, host)
            self._store("qweight", self.matmul.transform_packed_weight(q["W"]))
            self._store("scales", q["scales"])
            self._store("zeros", q["zeros"])
            self._store("bias", bias.detach() if isinstance(bias, torch.Tensor) else bias)
            self._loaded = True

        @classmethod
        def from_linear(cls, linear, W_dtype: str = "int4", group_size: int = 128, with_zeros: bool = False,
                        zeros_mode: Optional[str] = None, opt_M: Optional[Sequence[int]] = None,
                        target: Optional[str] = None):
            """A bitjit.Linear holding a torch.nn.Linear's weights quantized to W_dtype (activations and
            output in the linear's dtype), on the linear's device."""
            dtype = str(linear.weight.dtype).replace("torch.", "")
            layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, A_dtype=dtype,
                        W_dtype=W_dtype, accum_dtype="float32", out_dtype=dtype, group_size=group_size,
                        with_scaling=True, with_zeros=with_zeros, zeros_mode=zeros_mode, opt_M=opt_M, target=target)
            layer.load_from_float(linear.weight, linear.bias)
            return layer.to(linear.weight.device)

        def forward(self, A, output=None):
            if not self._loaded:
                raise RuntimeError("bitjit.Linear: no weights loaded (load_and_transform_weight, load_from_float "
                                   "or from_linear)")
            rows = A.reshape(-1, self.in_features)
            if self.perm is not None:
                rows = rows.index_select(1, self.perm)
            rows = rows.contiguous()
            if output is None:
                result = torch.ops.bitjit.matmul(rows, self.qweight, self.scales, self.zeros, self.bias,
                                                 self._op_config, self._op_arch)
                return result.reshape(*A.shape[:-1], self.out_features)
            if not output.is_contiguous():
                raise ValueError(f"output must be contiguous, got strides {output.stride()}")
            torch.ops.bitjit.matmul_out(rows, self.qweight, self.scales, self.zeros, self.bias,
                                        output.reshape(-1, self.out_features), self._op_config, self._op_arch)
            return output

    return Linear
