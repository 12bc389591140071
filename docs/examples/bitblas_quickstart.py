"""BitBLAS-style quick start: the only bitjit-specific line is the import.

Runs on a GPU machine with torch; prints the largest difference from torch.matmul.
"""
import torch

import bitjit as bitblas

config = bitblas.MatmulConfig(
    M=1, N=1024, K=1024,
    A_dtype="float16", W_dtype="int4", accum_dtype="float16", out_dtype="float16",
    layout="nt", with_bias=False, group_size=None, with_scaling=False, with_zeros=False, zeros_mode=None,
)
matmul = bitblas.Matmul(config=config)

activations = torch.rand((1, 1024), dtype=torch.float16).cuda()
weights = torch.randint(-8, 8, (1024, 1024), dtype=torch.int8).cuda()   # int4 values
packed = matmul.transform_weight(weights)
output = matmul(activations, packed)

reference = torch.matmul(activations, weights.t().to(torch.float16))
torch.testing.assert_close(output, reference, rtol=1e-2, atol=1e-1)
print(f"bitjit as bitblas: int4 matmul matches torch.matmul, largest difference "
      f"{(output.float() - reference.float()).abs().max().item():.3g}")
