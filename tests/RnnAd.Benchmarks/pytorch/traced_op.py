"""4x4 matmul + tanh + sum, forward and backward: PyTorch eager's per-op overhead."""
import torch
from common import measure, dtype_from_args

torch.manual_seed(0)
torch.set_default_dtype(dtype_from_args())
w = torch.rand(4, 4) * 2 - 1
x = (torch.rand(4, 4) * 2 - 1).requires_grad_()


def run():
    y = torch.tanh(x @ w).sum()
    torch.autograd.grad(y, x)


measure("traced op", run, warmup=2000, runs=20000, budget_seconds=5.0)
