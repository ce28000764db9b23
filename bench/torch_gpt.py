#!/usr/bin/env python3
"""PyTorch CPU reference speed for a GPT training step (forward + backward + AdamW), the same
architecture and sizes as wgpt's presets (nanoGPT's model, written out here).

usage: torch_gpt.py L C NH T B V [steps] [threads]  -> prints one JSON line:
  {"tokens_per_s": .., "step_ms": .., "threads": .., "torch": "<version>"}
       torch_gpt.py L C NH T B V serve [threads]     -> for bench/train.ts: prints one JSON line
  {"ready": true, "torch": ..} after 2 warm-up steps, then for each line "n" read from stdin runs n
  steps and prints {"seconds": ..} (so its batches can alternate with wgpt's and tfjs's).
Tokens are random ids (speed does not depend on the data).
"""
import json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

L, C, NH, T, B, V = (int(x) for x in sys.argv[1:7])
serve = len(sys.argv) > 7 and sys.argv[7] == "serve"
steps = int(sys.argv[7]) if len(sys.argv) > 7 and not serve else 20
threads = int(sys.argv[8]) if len(sys.argv) > 8 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(b, t, NH, c // NH).transpose(1, 2)
        k = k.view(b, t, NH, c // NH).transpose(1, 2)
        v = v.view(b, t, NH, c // NH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // NH)
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


model = GPT()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
idx = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))


def step():
    opt.zero_grad(set_to_none=True)
    loss = model(idx, tgt)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


if serve:
    for _ in range(2):
        step()
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": threads}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        n = int(line)
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
    sys.exit(0)

for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
dt = (time.perf_counter() - t0) / steps
print(json.dumps({"tokens_per_s": B * T / dt, "step_ms": dt * 1000, "threads": threads, "torch": torch.__version__}))
