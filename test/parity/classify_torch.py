#!/usr/bin/env python3
"""PyTorch reference for wgpt's sequence classifier (GPT + last-token linear head), used by
test/train/classify.test.ts.

Reads DIR/manifest.json (config, B, T, params [{name, shape}] in file order, the GPT's tensors then
head.weight (K,C) and head.bias (K); inputs (B*T), last (B), labels (B)) and DIR/params.bin
(float32, tensors packed in manifest order). Computes in float64:
  h = ln_f output at (b, last[b]);  logits = h @ W.T + bias;  loss = mean cross-entropy(logits, labels)
and writes DIR/result.json ({loss, logits}) and DIR/grads.bin (float64, every tensor's gradient in
manifest order).
"""
import json, math, sys, os
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
d = sys.argv[1]
man = json.load(open(os.path.join(d, "manifest.json")))
cfg = man["config"]
V, L, NH, C = cfg["vocabSize"], cfg["nLayer"], cfg["nHead"], cfg["nEmbd"]
B, T = man["B"], man["T"]

flat = np.fromfile(os.path.join(d, "params.bin"), dtype=np.float32)
P = {}
off = 0
for p in man["params"]:
    n = int(np.prod(p["shape"]))
    P[p["name"]] = torch.tensor(flat[off:off + n].astype(np.float64)).reshape(p["shape"]).requires_grad_(True)
    off += n
assert off == flat.size, (off, flat.size)

idx = torch.tensor(man["inputs"], dtype=torch.long).reshape(B, T)
last = torch.tensor(man["last"], dtype=torch.long)
labels = torch.tensor(man["labels"], dtype=torch.long)

# the GPT body, as in test/parity/gpt_torch.py
x = P["transformer.wte.weight"][idx] + P["transformer.wpe.weight"][:T]
HS = C // NH
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
for l in range(L):
    p = lambda n: P[f"transformer.h.{l}.{n}"]
    h = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), 1e-5)
    qkv = h @ p("attn.c_attn.weight").T + p("attn.c_attn.bias")
    q, k, v = qkv.split(C, dim=2)
    q = q.view(B, T, NH, HS).transpose(1, 2)
    k = k.view(B, T, NH, HS).transpose(1, 2)
    v = v.view(B, T, NH, HS).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
    att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
    x = x + y @ p("attn.c_proj.weight").T + p("attn.c_proj.bias")
    h = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), 1e-5)
    h = F.gelu(h @ p("mlp.c_fc.weight").T + p("mlp.c_fc.bias"), approximate="tanh")
    x = x + h @ p("mlp.c_proj.weight").T + p("mlp.c_proj.bias")
x = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], 1e-5)

# the head: last real token of each sequence
h = x[torch.arange(B), last]  # (B, C)
logits = h @ P["head.weight"].T + P["head.bias"]
loss = F.cross_entropy(logits, labels)
loss.backward()
grads = np.concatenate([P[p["name"]].grad.numpy().reshape(-1) for p in man["params"]])
grads.astype(np.float64).tofile(os.path.join(d, "grads.bin"))
json.dump({"loss": loss.item(), "logits": logits.detach().numpy().reshape(-1).tolist()}, open(os.path.join(d, "result.json"), "w"))
