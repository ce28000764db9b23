#!/usr/bin/env python3
"""PyTorch reference for wgpt's GPT (GPT-2 architecture, nanoGPT naming), used by gpt.parity.test.ts.

Reads DIR/manifest.json, DIR/params.bin (float32, tensors packed in manifest order) and
DIR/batches.bin (int32: for each step, B*T inputs then B*T targets). Computes, in float64:
  - logits and loss of batch 0 with the initial weights, and every parameter's gradient
  - the loss trajectory of `steps` AdamW steps (torch.optim.AdamW, weight decay on 2-D weights only,
    clip_grad_norm_, the per-step learning rates given in the manifest)
Writes DIR/result.json and DIR/grads.bin (float64, manifest order).
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
V, Tm, L, NH, C = cfg["vocabSize"], cfg["blockSize"], cfg["nLayer"], cfg["nHead"], cfg["nEmbd"]
B, T = man["B"], man["T"]
dtype = torch.float64

params = load_params(d, man)
batches = np.fromfile(os.path.join(d, "batches.bin"), dtype=np.int32).reshape(-1, 2, B, T)

def forward(P, idx, targets):
    x = gpt_body(P, idx, L, NH, C)
    logits = x @ P["transformer.wte.weight"].T
    loss = F.cross_entropy(logits.view(-1, V), targets.reshape(-1), ignore_index=-1)
    return logits, loss

idx0 = torch.tensor(batches[0, 0], dtype=torch.long)
tgt0 = torch.tensor(batches[0, 1], dtype=torch.long)
logits, loss = forward(params, idx0, tgt0)
loss.backward()
grads = np.concatenate([params[p["name"]].grad.numpy().reshape(-1) for p in man["params"]])
grads.astype(np.float64).tofile(os.path.join(d, "grads.bin"))
result = {"loss": loss.item(), "logits": logits.detach().numpy().reshape(-1).tolist()}

# training trajectory
o = man["optimizer"]
for t in params.values():
    t.grad = None
decay = [params[p["name"]] for p in man["params"] if len(p["shape"]) >= 2]
no_decay = [params[p["name"]] for p in man["params"] if len(p["shape"]) < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=man["lrs"][0], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
losses, norms = [], []
for step in range(man["steps"]):
    idx = torch.tensor(batches[step, 0], dtype=torch.long)
    tgt = torch.tensor(batches[step, 1], dtype=torch.long)
    for g in opt.param_groups:
        g["lr"] = man["lrs"][step]
    opt.zero_grad(set_to_none=True)
    _, loss = forward(params, idx, tgt)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), o["maxGradNorm"]) if o["maxGradNorm"] > 0 else torch.tensor(0.0)
    opt.step()
    losses.append(loss.item())
    norms.append(float(norm))
result["losses"] = losses
result["grad_norms"] = norms
json.dump(result, open(os.path.join(d, "result.json"), "w"))
