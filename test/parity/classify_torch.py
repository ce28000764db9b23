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
import json, sys, os
import numpy as np
import torch
import torch.nn.functional as F
from gpt_body import gpt_body, load_params

torch.set_num_threads(2)
d = sys.argv[1]
man = json.load(open(os.path.join(d, "manifest.json")))
cfg = man["config"]
V, L, NH, C = cfg["vocabSize"], cfg["nLayer"], cfg["nHead"], cfg["nEmbd"]
B, T = man["B"], man["T"]

P = load_params(d, man)

idx = torch.tensor(man["inputs"], dtype=torch.long).reshape(B, T)
last = torch.tensor(man["last"], dtype=torch.long)
labels = torch.tensor(man["labels"], dtype=torch.long)

x = gpt_body(P, idx, L, NH, C)

# the head: last real token of each sequence
h = x[torch.arange(B), last]  # (B, C)
logits = h @ P["head.weight"].T + P["head.bias"]
loss = F.cross_entropy(logits, labels)
loss.backward()
grads = np.concatenate([P[p["name"]].grad.numpy().reshape(-1) for p in man["params"]])
grads.astype(np.float64).tofile(os.path.join(d, "grads.bin"))
json.dump({"loss": loss.item(), "logits": logits.detach().numpy().reshape(-1).tolist()}, open(os.path.join(d, "result.json"), "w"))
