"""The GPT-2 body in PyTorch (float64), shared by the parity references gpt_torch.py and
classify_torch.py: wgpt's parameters by nanoGPT name, and the blocks up to ln_f."""
import math, os
import numpy as np
import torch
import torch.nn.functional as F


def load_params(d, man):
    """DIR/params.bin (float32, tensors packed in manifest order) as float64 leaf tensors by name."""
    flat = np.fromfile(os.path.join(d, "params.bin"), dtype=np.float32)
    params = {}
    off = 0
    for p in man["params"]:
        n = int(np.prod(p["shape"]))
        params[p["name"]] = torch.tensor(flat[off:off + n].astype(np.float64)).reshape(p["shape"]).requires_grad_(True)
        off += n
    assert off == flat.size, (off, flat.size)
    return params


def gpt_body(P, idx, L, NH, C):
    """Embeddings, L blocks and the final layernorm: (B, T) token ids -> (B, T, C)."""
    B, T = idx.shape
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
    return F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], 1e-5)
