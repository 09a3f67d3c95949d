# One LeNet-5 training step (batch 64 of 1x28x28 f32, conv 6@5x5 pad 2, maxpool, conv
# 16@5x5, maxpool, dense 400-120-84-10 with ReLU, cross-entropy, SGD lr 0.05) in PyTorch
# on 2 threads, written as a PyTorch user writes it. After about 1 s of warm-up it prints
# the median and fastest of ROUNDS (default 9) rounds of about 0.2 s each, first with
# PyTorch's default CPU convolutions (oneDNN), then with torch.backends.mkldnn.enabled =
# False (its own non-oneDNN path):
#
#   python benches/peers_lenet/pytorch.py
#   ROUNDS=1 python benches/peers_lenet/pytorch.py    # quick check only, not for timing
#
# Needs `pip install torch`; not part of the test suite.
import os, time, statistics
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
ROUNDS = int(os.environ.get("ROUNDS", "9"))

rng = np.random.default_rng(5)
x = torch.from_numpy(rng.uniform(0, 1, (64, 1, 28, 28)).astype(np.float32))
y = torch.from_numpy(rng.integers(0, 10, 64))

def make_step():
    # Same seed each time, so both configurations train from the same weights.
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    total = [0.0]
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        # .item() waits for the step and is what a training loop does to log the loss.
        total[0] += loss.item()
    return step

def bench(label):
    step = make_step()
    # Warm-up lets allocator caches and kernel choices settle; its rate sizes the rounds.
    t = time.perf_counter(); n = 0
    while time.perf_counter() - t < 1.0 or n < 3:
        step(); n += 1
    calls = max(1, int(0.2 / ((time.perf_counter() - t) / n)))
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        for _ in range(calls):
            step()
        times.append((time.perf_counter() - t) / calls)
    print(f"{label}: median {statistics.median(times) * 1e3:.2f} ms "
          f"(min {min(times) * 1e3:.2f} ms), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

bench("pytorch lenet5 b64")
torch.backends.mkldnn.enabled = False
bench("pytorch lenet5 b64 mkldnn off")
