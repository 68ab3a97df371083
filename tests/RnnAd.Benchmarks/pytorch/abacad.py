"""Seed 000's AbAcAd RNN: one-hot 4 -> RNN cell (hidden 2) folded over 299 steps in Python, as the seed
writes it -> Linear 2 -> 4; cross-entropy at every step; Adam. One epoch = forward, backward, update.
Also PyTorch's fused nn.RNN for the same network."""
import torch
from common import measure, dtype_from_args

torch.manual_seed(43052)
torch.set_default_dtype(dtype_from_args())
ids = [0 if i % 2 == 0 else [1, 2, 3][(i // 2) % 3] for i in range(300)]
x = torch.nn.functional.one_hot(torch.tensor(ids[:-1]), 4).to(torch.get_default_dtype())
y = torch.tensor(ids[1:])


class RNNCell(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.i2h = torch.nn.Linear(4, 2)
        self.h2h = torch.nn.Linear(2, 2)

    def forward(self, xt, ht):
        return torch.tanh(self.i2h(xt) + self.h2h(ht))


cell, head = RNNCell(), torch.nn.Linear(2, 4)
loss_fn = torch.nn.CrossEntropyLoss()
opt = torch.optim.Adam(list(cell.parameters()) + list(head.parameters()))


def epoch_loop():
    ht = torch.zeros(1, 2)
    loss = 0
    for t in range(len(y)):
        ht = cell(x[[t]], ht)
        loss = loss + loss_fn(head(ht), y[[t]])
    (loss / len(y)).backward()
    opt.step()
    opt.zero_grad()


rnn, fc = torch.nn.RNN(4, 2, batch_first=True), torch.nn.Linear(2, 4)
opt2 = torch.optim.Adam(list(rnn.parameters()) + list(fc.parameters()))


def epoch_fused():
    out, _ = rnn(x[None])
    loss_fn(fc(out[0]), y).backward()
    opt2.step()
    opt2.zero_grad()


measure("abacad epoch", epoch_loop, warmup=5, runs=60, budget_seconds=4.0)
measure("abacad epoch nn.RNN", epoch_fused, warmup=20, runs=500, budget_seconds=3.0)
