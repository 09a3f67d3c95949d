# The training steps of benches/common (mlp 784-256-256-10 b128, neuron 4-1 b16, wide mlp
# 1024-1024-1024-10 b256: sigmoid after every layer, MSE, SGD lr 0.1, f32, the same shapes,
# target rule and initial distribution) in PyTorch or JAX, as their users write them: the
# median of 9 rounds of about 0.2 s each. One framework per process, so that the threads of
# one do not spin against the other's; the optional arguments pick workloads:
#
#   python benches/peers.py pytorch [mlp neuron wide]
#   python benches/peers.py jax [mlp neuron wide]
#
# Needs `pip install torch jax`; not part of the test suite.
import sys, time, statistics
import numpy as np
import torch
import jax, jax.numpy as jnp

torch.set_num_threads(2)

def data(sizes, batch, seed):
    rng = np.random.default_rng(seed)
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(i)
        params.append((rng.uniform(-bound, bound, (i, o)).astype(np.float32),
                       rng.uniform(-bound, bound, (o,)).astype(np.float32)))
    x = rng.uniform(-1, 1, (batch, sizes[0])).astype(np.float32)
    classes = sizes[-1]
    y = np.zeros((batch, classes), np.float32)
    for r in range(batch):
        c = (r * 7 + 3) % max(classes, 2)
        if classes == 1:
            y[r, 0] = c % 2
        else:
            y[r, c] = 1
    return params, x, y

def torch_step(sizes, batch, seed):
    params, x, y = data(sizes, batch, seed)
    layers = []
    for w, b in params:
        l = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            l.weight.copy_(torch.from_numpy(w.T.copy()))
            l.bias.copy_(torch.from_numpy(b))
        layers += [l, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.MSELoss()
    total = [0.0]
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        total[0] += loss.item()
    return step

def jax_step(sizes, batch, seed):
    params, x, y = data(sizes, batch, seed)
    params = [(jnp.array(w), jnp.array(b)) for w, b in params]
    x, y = jnp.array(x), jnp.array(y)
    def loss(ps, x, y):
        h = x
        for w, b in ps:
            h = jax.nn.sigmoid(h @ w + b)
        return jnp.mean((h - y) ** 2)
    @jax.jit
    def update(ps, x, y):
        l, g = jax.value_and_grad(loss)(ps, x, y)
        return [(w - 0.1 * gw, b - 0.1 * gb) for (w, b), (gw, gb) in zip(ps, g)], l
    state = [params, 0.0]
    def step():
        ps, l = update(state[0], x, y)
        state[0] = ps
        l.block_until_ready()
        state[1] += float(l)
    return step

def batch_size(f, target=0.2):
    t = time.perf_counter(); n = 0
    while time.perf_counter() - t < target or n < 3:
        f(); n += 1
    return max(1, int(target / ((time.perf_counter() - t) / n)))

cases = {
    "mlp": ("mlp 784-256-256-10 b128", [784, 256, 256, 10], 128, 2),
    "neuron": ("neuron 4-1 b16", [4, 1], 16, 3),
    "wide": ("wide mlp 1024-1024-1024-10 b256", [1024, 1024, 1024, 10], 256, 4),
}
which = sys.argv[1]
for key in sys.argv[2:] or list(cases):
    name, sizes, batch, seed = cases[key]
    make = {"pytorch": torch_step, "jax": jax_step}[which]
    fns = {which: make(sizes, batch, seed)}
    calls = {k: batch_size(f) for k, f in fns.items()}
    times = {k: [] for k in fns}
    for _ in range(9):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(calls[k]):
                f()
            times[k].append((time.perf_counter() - t) / calls[k])
    print(f"{name}:", "  ".join(f"{k} {statistics.median(v) * 1e6:.1f} us (fastest {min(v) * 1e6:.1f})" for k, v in times.items()), flush=True)
