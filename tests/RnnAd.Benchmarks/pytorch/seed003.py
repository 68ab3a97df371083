"""Seed 003's sentiment model: Embedding 10002x100 -> RNNCell(100, 300) folded over 200 steps (as the
seed writes it) -> Linear 300->256, relu -> Linear 256->3; batch 64; cross-entropy; Adam. One batch =
forward, backward, update."""
import torch
from common import measure, dtype_from_args

torch.manual_seed(0)
torch.set_default_dtype(dtype_from_args())
vocab, embed, hidden, steps, batch = 10002, 100, 300, 200, 64
em = torch.nn.Embedding(vocab, embed)
cell = torch.nn.RNNCell(embed, hidden)
fc1, fc2 = torch.nn.Linear(hidden, 256), torch.nn.Linear(256, 3)
params = [*em.parameters(), *cell.parameters(), *fc1.parameters(), *fc2.parameters()]
opt = torch.optim.Adam(params, lr=1e-4)
tokens = torch.randint(0, vocab, (steps, batch))
labels = torch.randint(0, 3, (batch,))
loss_fn = torch.nn.CrossEntropyLoss()


def run():
    inputs = em(tokens)
    ht = torch.zeros(batch, hidden)
    for word in inputs:
        ht = cell(word, ht)
    loss_fn(fc2(torch.relu(fc1(ht))), labels).backward()
    opt.step()
    opt.zero_grad()


measure("seed-003 batch", run, warmup=10, runs=30, budget_seconds=10.0)
