"""Character LSTM: one-hot 65 -> 2-layer LSTM (hidden 128) -> Linear 128->65 at every step; batch 32,
64 steps; cross-entropy; Adam. One batch = forward, backward, update."""
import torch
from common import measure, dtype_from_args

torch.manual_seed(0)
torch.set_default_dtype(dtype_from_args())
vocab, hidden, steps, batch = 65, 128, 64, 32
lstm = torch.nn.LSTM(vocab, hidden, num_layers=2, batch_first=True)
head = torch.nn.Linear(hidden, vocab)
opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()])
ids = torch.randint(0, vocab, (batch, steps))
x = torch.nn.functional.one_hot(ids, vocab).to(torch.get_default_dtype())
y = torch.randint(0, vocab, (batch * steps,))
loss_fn = torch.nn.CrossEntropyLoss()


def run():
    out, _ = lstm(x)
    loss_fn(head(out).reshape(-1, vocab), y).backward()
    opt.step()
    opt.zero_grad()


measure("char-LSTM batch", run, warmup=10, runs=40, budget_seconds=6.0)
