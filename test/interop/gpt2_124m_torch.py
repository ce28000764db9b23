#!/usr/bin/env python3
"""PyTorch side of the GPT-2 124M size check (test/interop/gpt2-124m.check.ts, run by hand: it
needs ~4 GB of memory and minutes on a CPU adapter, too much for npm test).

  make DIR B T   write DIR/hf: a random GPT-2 124M (GPT-2's init: normal(0, 0.02), residual
                 projections / sqrt(2L)) in Hugging Face's layout, and DIR/batch.json; compute in
                 float32 the loss, logits at two positions, and some gradients; write DIR/ref.json.
"""
import json, math, os, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import hf_gpt2_torch as hf

hf.TDT = torch.float32
torch.set_num_threads(2)

d, B, T = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
C, L, V, Tm = 768, 12, 50257, 1024
c = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05,
     "n_embd": C, "n_layer": L, "n_head": 12, "n_positions": Tm, "n_ctx": Tm, "vocab_size": V, "n_inner": None,
     "bos_token_id": 50256, "eos_token_id": 50256}
g = np.random.default_rng(124)
w = lambda *s, std=0.02: (g.standard_normal(s, dtype=np.float32) * std)
proj = 0.02 / math.sqrt(2 * L)
sd = {"wte.weight": w(V, C), "wpe.weight": w(Tm, C, std=0.01)}
for l in range(L):
    p = f"h.{l}."
    sd[p + "ln_1.weight"] = np.ones(C, np.float32); sd[p + "ln_1.bias"] = np.zeros(C, np.float32)
    sd[p + "attn.c_attn.weight"] = w(C, 3 * C); sd[p + "attn.c_attn.bias"] = np.zeros(3 * C, np.float32)
    sd[p + "attn.c_proj.weight"] = w(C, C, std=proj); sd[p + "attn.c_proj.bias"] = np.zeros(C, np.float32)
    sd[p + "ln_2.weight"] = np.ones(C, np.float32); sd[p + "ln_2.bias"] = np.zeros(C, np.float32)
    sd[p + "mlp.c_fc.weight"] = w(C, 4 * C); sd[p + "mlp.c_fc.bias"] = np.zeros(4 * C, np.float32)
    sd[p + "mlp.c_proj.weight"] = w(4 * C, C, std=proj); sd[p + "mlp.c_proj.bias"] = np.zeros(C, np.float32)
sd["ln_f.weight"] = np.ones(C, np.float32); sd["ln_f.bias"] = np.zeros(C, np.float32)
os.makedirs(os.path.join(d, "hf"), exist_ok=True)
json.dump(c, open(os.path.join(d, "hf", "config.json"), "w"))
hf.write_safetensors(os.path.join(d, "hf", "model.safetensors"), {k: ("F32", v) for k, v in sd.items()}, {"format": "pt"})
del sd

ids = g.integers(0, V, size=(B, T + 1))
ids[0, :40] = np.arange(V - 40, V)  # some tokens from the last vocabulary chunk
batch = {"B": B, "T": T, "inputs": ids[:, :-1].reshape(-1).tolist(), "targets": ids[:, 1:].reshape(-1).tolist()}
json.dump(batch, open(os.path.join(d, "batch.json"), "w"))

m = hf.load_hf(os.path.join(d, "hf"))
idx = torch.tensor(ids[:, :-1], dtype=torch.long)
tgt = torch.tensor(ids[:, 1:], dtype=torch.long)
logits, loss = m(idx, tgt)
loss.backward()
wte_g = m.transformer.wte.weight.grad
rows = [int(ids[1, 0]), int(ids[0, 0]), V - 1]  # one row of each vocabulary chunk, and the last id
ref = {
    "loss": loss.item(),
    "logits_first": logits[0, 0].tolist(),
    "logits_last": logits[B - 1, T - 1].tolist(),
    "wte_grad_rows": rows,
    "wte_grad": [wte_g[r].tolist() for r in rows],
    "wpe_grad0": m.transformer.wpe.weight.grad[0].tolist(),
    "ln_f_grad": m.transformer.ln_f.weight.grad.tolist(),
}
json.dump(ref, open(os.path.join(d, "ref.json"), "w"))
print("torch loss", loss.item())
