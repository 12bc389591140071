"""bitjit.Linear: a quantized torch.nn.Module (BitBLAS's Linear names and call shapes). Built on first
access of ``bitjit.Linear`` so that importing bitjit never imports torch."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from . import quantization
from ._bitjit import ConfigError

_FLOATS = ("float16", "bfloat16", "float32")


_MOST_LAYOUT_RECORD_BYTES = 256


def _layout_record(state, what: str) -> str:
    """The weight-layout name a bitjit.Linear's state holds (its get_extra_state's uint8 tensor); a
    ConfigError naming `what` for anything else (a state is outside input)."""
    import torch
    if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8 or state.dim() != 1 or \
            not 0 < state.numel() <= _MOST_LAYOUT_RECORD_BYTES:
        described = (f"a {state.dtype} tensor of shape {tuple(state.shape)}" if isinstance(state, torch.Tensor)
                     else f"a {type(state).__name__}")
        raise ConfigError(f"{what} must be a bitjit weight-layout record (a 1-D uint8 tensor of at most "
                          f"{_MOST_LAYOUT_RECORD_BYTES} bytes); got {described}")
    try:
        return bytes(state.cpu().tolist()).decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not a bitjit weight-layout record (its bytes are not ASCII text)") from None


def make_linear_class(matmul_class, config_class):
    import torch

    from . import ops  # registers torch.ops.bitjit

    class Linear(torch.nn.Module):
        """y = x · dequant(W)ᵀ (+ bias) with bitjit's kernels; x may have any leading dimensions.

        BitBLAS's arguments: in_features / out_features (or BitBLAS's older infeatures /
        outfeatures), bias, the dtypes, group_size, with_scaling, with_zeros, zeros_mode, opt_M (the
        row buckets, one kernel each; default bitjit's 1 .. 1024), enable_tuning (tunes at
        construction; default False), fast_decoding and propagate_b (as MatmulConfig takes them).
        Buffers start at zero, as BitBLAS's do, so a fresh layer runs. Weights come from
        `load_and_transform_weight` (logical values, as BitBLAS takes them), `repack_from_gptq`,
        `load_from_float` (bitjit quantizes them) or `Linear.from_linear(torch_linear, ...)`."""

        def __init__(self, in_features: Optional[int] = None, out_features: Optional[int] = None, bias: bool = False,
                     A_dtype: str = "float16", W_dtype: str = "float16", accum_dtype: str = "float16",
                     out_dtype: str = "float16", group_size: Optional[int] = -1, with_scaling: Optional[bool] = None,
                     with_zeros: Optional[bool] = False, zeros_mode: Optional[str] = None,
                     opt_M: Union[int, Sequence[int], None] = None, enable_tuning: bool = False,
                     fast_decoding: Optional[bool] = None, propagate_b: Optional[bool] = None,
                     target: Optional[str] = None, *, infeatures: Optional[int] = None,
                     outfeatures: Optional[int] = None) -> None:
            super().__init__()
            in_features = self._one_of("in_features", in_features, "infeatures", infeatures)
            out_features = self._one_of("out_features", out_features, "outfeatures", outfeatures)
            with_zeros = bool(with_zeros)
            if with_scaling is None:  # BitBLAS: scales when weights are grouped or have zero points
                with_scaling = group_size not in (None, -1) or with_zeros
            self.config = config_class(M=opt_M, N=out_features, K=in_features, A_dtype=A_dtype, W_dtype=W_dtype,
                                       accum_dtype=accum_dtype, out_dtype=out_dtype, with_bias=bool(bias),
                                       group_size=group_size, with_scaling=with_scaling, with_zeros=with_zeros,
                                       zeros_mode=zeros_mode, fast_decoding=fast_decoding, propagate_b=propagate_b)
            self.in_features, self.out_features = self.config.K, self.config.N
            self.opt_M = self.config.M
            self.matmul = matmul_class(self.config, target=target, enable_tuning=enable_tuning)
            self.bitblas_matmul = self.matmul  # BitBLAS's attribute name
            # BitBLAS names the weight "weight" when A and W have one dtype, else "qweight".
            self._weight_name = "weight" if self.config.A_dtype == self.config.W_dtype else "qweight"
            device = "cuda" if torch.cuda.is_available() else "cpu"
            shapes = self.matmul._native.operand_shapes(1)
            dtypes = self.matmul._native.operand_dtypes(1)
            zero_weight = self.matmul._stored_weight(bytes(int(np.prod(shapes[1])) * (2 if self.matmul._sixteen_bit
                                                                                      else 1)), torch.zeros(0))
            self.register_buffer(self._weight_name, zero_weight.to(device))
            for name, index in (("scales", 2), ("zeros", 3), ("bias", 4)):
                if dtypes[index]:
                    dtype = getattr(torch, dtypes[index]) if dtypes[index] in _FLOATS else torch.uint8
                    self.register_buffer(name, torch.zeros(shapes[index], dtype=dtype, device=device))
                else:
                    setattr(self, name, None)
            # Act-order GPTQ layers: the input column of each of W's columns (set_input_permutation).
            self.register_buffer("perm", None)
            # What forward passes to torch.ops.bitjit.matmul: plain strings, constants to torch.compile.
            self._op_config, self._op_arch = self.config.canonical, self.matmul.arch

        def set_input_permutation(self, permutation) -> None:
            """Multiplies x[..., permutation] instead of x: W's column j stands for input column
            permutation[j] (act-order GPTQ checkpoints: bitjit.quantization.from_gptq's "perm")."""
            perm = torch.as_tensor(np.asarray(permutation), dtype=torch.int64)
            if perm.shape != (self.in_features,) or not torch.equal(perm.sort().values, torch.arange(self.in_features)):
                raise ConfigError(f"permutation must hold each of 0 .. {self.in_features - 1} once; got shape "
                                  f"{tuple(perm.shape)}")
            self.register_buffer("perm", perm.to(self._kernel_weight.device))

        # The state records the layout the weight was transformed into (Matmul.weight_layout_id), as a
        # uint8 tensor, which every state format keeps (safetensors too): the weight buffer holds the
        # kernels' bytes, which depend on the config (opt_M too), the arch and the bitjit version, and
        # loaded into kernels reading other bytes it would compute wrong values without an error.
        def get_extra_state(self):
            return torch.tensor(list(self.matmul.weight_layout_id.encode("ascii")), dtype=torch.uint8)

        def set_extra_state(self, state) -> None:
            _layout_record(state, "the state's _extra_state")  # compared in _load_from_state_dict, before any copy

        def _check_stored_layout(self, state_dict, prefix: str) -> None:
            weight_key = prefix + self._weight_name
            if weight_key not in state_dict:
                return  # none of this layer's weight in the state (bitjit.load_quantized's other tensors)
            expected = self.matmul.weight_layout_id
            record_key = prefix + "_extra_state"
            if record_key not in state_dict:
                raise ConfigError(f"{weight_key}: the state does not record the layout its weight was transformed "
                                  f"into ({record_key} is missing: a state saved by bitjit before 2026-11-30, or by "
                                  f"another library, whose layout differs); this layer's kernels read {expected!r}. "
                                  "Load the logical weights with load_and_transform_weight, or the checkpoint with "
                                  "bitjit.load_quantized")
            recorded = _layout_record(state_dict[record_key], record_key)
            if recorded != expected:
                raise ConfigError(f"{weight_key} was transformed for {recorded!r}, but this layer's kernels read "
                                  f"{expected!r} (another opt_M, target, weight type or bitjit version); load the "
                                  "logical weights with load_and_transform_weight")

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                  error_msgs):
            self._check_stored_layout(state_dict, prefix)
            # An act-order layer's state has "perm": make the buffer it loads into.
            if prefix + "perm" in state_dict and self.perm is None:
                self.register_buffer("perm", torch.empty(self.in_features, dtype=torch.int64,
                                                         device=self._kernel_weight.device))
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                          error_msgs)

        @staticmethod
        def _one_of(name: str, value, old_name: str, old_value) -> int:
            if value is not None and old_value is not None:
                raise ConfigError(f"Linear: give {name} or {old_name} (BitBLAS's older name), not both")
            chosen = value if value is not None else old_value
            if chosen is None:
                raise ConfigError(f"Linear: {name} is required")
            return chosen

        @property
        def _kernel_weight(self):
            return getattr(self, self._weight_name)

        def _store(self, name: str, array) -> None:
            buffer = getattr(self, name)
            if array is None:
                return
            if buffer is None:
                raise ConfigError(f"{name} was given but this layer's config does not use it ({self.config.canonical})")
            # A user's tensors may require grad (nn.Parameter): the buffers hold values, not a graph.
            tensor = array.detach() if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))
            if buffer.dtype in (torch.float16, torch.bfloat16, torch.float32) and tensor.dtype in (
                    torch.float16, torch.bfloat16, torch.float32, torch.float64):
                tensor = tensor.to(buffer.dtype)
            # The shape itself, not only the size: scales [groups, out] (GPTQ's and AWQ's order) have the
            # size of [out, groups] and would be read transposed. Packed bytes given as another integer
            # type (int8 for uint8, int32 words) keep their rows and their total size.
            same_bytes = tensor.numel() * tensor.element_size() == buffer.numel() * buffer.element_size()
            fits = tuple(tensor.shape) == tuple(buffer.shape) if tensor.dtype == buffer.dtype else (
                same_bytes and not tensor.is_floating_point() and not buffer.is_floating_point() and
                tensor.dim() == buffer.dim() and tensor.shape[:1] == buffer.shape[:1])
            if not fits:
                transposed = tensor.dim() == 2 and tuple(tensor.shape) == tuple(buffer.shape)[::-1]
                raise ConfigError(f"{name} has {tuple(tensor.shape)} {tensor.dtype}; expected {tuple(buffer.shape)} "
                                  f"{buffer.dtype}" + (" (given transposed? GPTQ and AWQ store [groups, out]; "
                                                       f"pass {name}.T)" if transposed else ""))
            with torch.no_grad():
                buffer.copy_(tensor.reshape(-1).view(torch.uint8).view(buffer.dtype).reshape(buffer.shape)
                             if tensor.dtype != buffer.dtype else tensor.reshape(buffer.shape))

        def load_and_transform_weight(self, weight, scales=None, zeros=None, bias=None) -> None:
            """weight: logical values [out, in] (integers for integer formats, e.g. int4 in [-8, 7];
            codes for nf4, fp4, fp8; float values for float16 / bfloat16); scales / zeros [out, groups];
            bias [out]. What is not given keeps its value (zeros at first), as in BitBLAS."""
            self.register_buffer("perm", None)  # weights in the input's own column order
            self._store(self._weight_name, self.matmul.transform_weight(
                weight.cpu() if isinstance(weight, torch.Tensor) else weight))
            self._store("scales", scales)
            self._store("zeros", zeros)
            self._store("bias", bias)

        def repack_from_gptq(self, gptq_module) -> None:
            """A GPTQ layer (qweight [in*bits/32, out] int32, qzeros, scales [groups, out], optional g_idx
            and bias), converted by bitjit.quantization.from_gptq. The layer's config must be the one
            the checkpoint needs: uintN weights, its group size, scales and zeros ("original" zeros
            mode, or "rescale", for which the zeros are multiplied by the scales)."""
            bits = int(self.config.W_dtype[4:]) if self.config.W_dtype.startswith("uint") else None
            if bits is None:
                raise ConfigError(f"repack_from_gptq: W_dtype={self.config.W_dtype!r}; GPTQ layers need uint2, uint4 "
                                  "or uint8")
            host = lambda t: None if t is None else t.detach().cpu().numpy()  # noqa: E731
            g_idx = getattr(gptq_module, "g_idx", None)
            layer = quantization.from_gptq(host(gptq_module.qweight), host(gptq_module.qzeros),
                                           host(gptq_module.scales), bits=bits, g_idx=host(g_idx))
            needed = layer["config"]
            for name in ("N", "K", "W_dtype", "group_size"):
                if needed[name] != getattr(self.config, name) and not (name == "group_size" and
                                                                      self.config.group_size in (None, -1) and
                                                                      needed[name] == self.config.K):
                    raise ConfigError(f"repack_from_gptq: the checkpoint needs {name}={needed[name]}, this layer has "
                                      f"{name}={getattr(self.config, name)}")
            if not (self.config.with_scaling and self.config.with_zeros) or self.config.zeros_mode not in (
                    None, "original", "rescale"):
                raise ConfigError("repack_from_gptq: the layer needs with_scaling=True, with_zeros=True and "
                                  f"zeros_mode 'original' or 'rescale' (has {self.config.canonical})")
            zeros = layer["zeros"].astype(np.float64)
            if self.config.zeros_mode == "rescale":  # w * s - z': z' = z * s
                zeros = zeros * layer["scales"].astype(np.float64)
            self._store(self._weight_name, self.matmul.transform_packed_weight(layer["W"]))
            self._store("scales", layer["scales"])
            self._store("zeros", zeros)
            if layer["perm"] is not None:  # act-order: the input's columns in W's order
                self.set_input_permutation(layer["perm"])
            else:
                self.register_buffer("perm", None)
            bias = getattr(gptq_module, "bias", None)
            if bias is not None:
                self._store("bias", bias.detach())

        def load_from_float(self, weight, bias=None) -> None:
            """Quantizes float weights [out, in] (bitjit's quantizers: docs/formats.md) and loads them."""
            host = weight.detach().float().cpu().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight)
            q = quantization.quantize(self.config, host)
            self.register_buffer("perm", None)  # weights in the input's own column order
            self._store(self._weight_name, self.matmul.transform_packed_weight(q["W"]))
            self._store("scales", q["scales"])
            self._store("zeros", q["zeros"])
            self._store("bias", bias.detach() if isinstance(bias, torch.Tensor) else bias)

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
            # ops.call (not Matmul.forward): torch.compile traces these few tensor operations and
            # torch.ops.bitjit.*, nothing of bitjit's Python; eager calls skip the dispatcher.
            if A.dim() == 0 or A.shape[-1] != self.in_features:  # reshape alone would regroup the elements
                raise ConfigError(f"Linear: x has shape {tuple(A.shape)}; its last dimension must be "
                                  f"in_features={self.in_features}")
            rows = A.reshape(-1, self.in_features)
            if self.perm is not None:
                rows = rows.index_select(1, self.perm)
            rows = rows.contiguous()
            W = self._kernel_weight
            if W.dim() == 3:  # 16-bit weights in fragment order [N, K / b, b]: the kernel takes [N, K]
                W = W.reshape(self.out_features, self.in_features)
            if output is None:
                result = ops.call(rows, W, self.scales, self.zeros, self.bias, None, self._op_config, self._op_arch)
                return result.reshape(*A.shape[:-1], self.out_features)
            if not output.is_contiguous():
                raise ConfigError(f"output must be contiguous (row-major without gaps), got strides {output.stride()}")
            if tuple(output.shape) != (*A.shape[:-1], self.out_features):  # one of the same size would be filled
                raise ConfigError(f"Linear: output has shape {tuple(output.shape)}; expected "  # in the wrong order
                                  f"{(*A.shape[:-1], self.out_features)} for x of shape {tuple(A.shape)}")
            ops.call(rows, W, self.scales, self.zeros, self.bias, output.reshape(-1, self.out_features),
                     self._op_config, self._op_arch)
            return output

    return Linear
