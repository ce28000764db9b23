#!/usr/bin/env python3
"""PyTorch side of test/interop/hf.test.ts: GPT-2 in Hugging Face's layout, without `transformers`.

The model below mirrors transformers' GPT2LMHeadModel module for module (Conv1D layers that compute
x @ W + b with W stored (in, out), the non-persistent causal-mask buffer, the LM head tied to wte),
so `load_state_dict(strict=True)` accepts exactly the state dict Hugging Face's GPT-2 has.
safetensors files are read and written with numpy + json (the format is an 8-byte little-endian
header length, a JSON header, then the raw tensors).

  make DIR   write DIR/hf (config.json + model.safetensors: random GPT-2, F32, no name prefix, with
             the attn.bias buffers and a tied lm_head.weight as real files have) and DIR/hf16 (the
             same weights rounded to F16, names under "transformer."); read DIR/batch.json (B, T,
             inputs, targets); write DIR/make.json with the logits and loss of both in float64.
  check SUB  load DIR/SUB/config.json + model.safetensors strictly into the module, write
             DIR/SUB.json with the loss (and logits) on DIR/batch.json in float64.
"""
import json, math, os, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
TDT = torch.float64  # module dtype; the GPT-2-size check (gpt2_124m_torch.py) sets float32
DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def write_safetensors(path, tensors, metadata=None):
    header, off, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, arr) in tensors.items():
        b = np.ascontiguousarray(arr.astype(DT[dtype])).astype("<" + np.dtype(DT[dtype]).str[1:]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<" + np.dtype(DT[info["dtype"]]).str[1:]).reshape(info["shape"])
        out[name] = torch.tensor(arr.astype(np.float64)).to(TDT)
    return out, meta


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: y = x @ weight + bias, weight (nx, nf)."""
    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf, dtype=TDT))
        self.bias = nn.Parameter(torch.zeros(nf, dtype=TDT))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, T = c["n_embd"], c["n_positions"]
        self.nh = c["n_head"]
        self.register_buffer("bias", torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T), persistent=False)
        self.c_attn = Conv1D(3 * C, C)
        self.c_proj = Conv1D(C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.nh
        q, k, v = (t.view(B, T, self.nh, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~self.bias[:, :, :T, :T], float("-inf")).softmax(dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        self.c_fc = Conv1D(4 * C, C)
        self.c_proj = Conv1D(C, 4 * C)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # gelu_new


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, eps = c["n_embd"], c["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(C, eps=eps, dtype=TDT)
        self.attn = Attention(c)
        self.ln_2 = nn.LayerNorm(C, eps=eps, dtype=TDT)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"], dtype=TDT)
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"], dtype=TDT)
        self.h = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"], dtype=TDT)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = GPT2Model(c)
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False, dtype=TDT)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, idx, targets):
        logits = self.lm_head(self.transformer(idx))
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
        return logits, loss


def load_hf(d):
    """What GPT2LMHeadModel.from_pretrained does with the state dict: optional 'transformer.'
    prefix, tied lm_head.weight; strict about every other key."""
    c = json.load(open(os.path.join(d, "config.json")))
    assert c["model_type"] == "gpt2" and c["activation_function"] in ("gelu_new", "gelu_pytorch_tanh"), c
    sd, meta = read_safetensors(os.path.join(d, "model.safetensors"))
    assert meta is None or meta.get("format") in ("pt", "tf", "flax", "mlx"), meta  # transformers' check
    sd = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.endswith((".attn.bias", ".attn.masked_bias")) and k != "lm_head.weight"}
    m = GPT2LMHeadModel(c)
    m.transformer.load_state_dict(sd, strict=True)
    return m


def run(m, batch):
    B, T = batch["B"], batch["T"]
    idx = torch.tensor(batch["inputs"], dtype=torch.long).view(B, T)
    tgt = torch.tensor(batch["targets"], dtype=torch.long).view(B, T)
    with torch.no_grad():
        logits, loss = m(idx, tgt)
    return {"loss": loss.item(), "logits": logits.reshape(-1).tolist()}


def make(d):
    cfg = json.load(open(os.path.join(d, "spec.json")))
    C, L, V, Tm = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    c = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
         "layer_norm_epsilon": 1e-05, "n_inner": None, "n_ctx": Tm, "resid_pdrop": 0.1, "embd_pdrop": 0.1,
         "attn_pdrop": 0.1, "initializer_range": 0.02, **cfg}
    g = np.random.default_rng(1234)
    w = lambda *s, std=0.02: (g.standard_normal(s) * std).astype(np.float32)
    sd = {"wte.weight": w(V, C, std=0.1), "wpe.weight": w(Tm, C, std=0.05)}
    for l in range(L):
        p = f"h.{l}."
        sd[p + "ln_1.weight"] = (1 + w(C, std=0.1)); sd[p + "ln_1.bias"] = w(C, std=0.05)
        sd[p + "attn.c_attn.weight"] = w(C, 3 * C, std=0.15); sd[p + "attn.c_attn.bias"] = w(3 * C, std=0.05)
        sd[p + "attn.c_proj.weight"] = w(C, C, std=0.1); sd[p + "attn.c_proj.bias"] = w(C, std=0.02)
        sd[p + "ln_2.weight"] = (1 + w(C, std=0.1)); sd[p + "ln_2.bias"] = w(C, std=0.05)
        sd[p + "mlp.c_fc.weight"] = w(C, 4 * C, std=0.1); sd[p + "mlp.c_fc.bias"] = w(4 * C, std=0.05)
        sd[p + "mlp.c_proj.weight"] = w(4 * C, C, std=0.05); sd[p + "mlp.c_proj.bias"] = w(C, std=0.02)
    sd["ln_f.weight"] = (1 + w(C, std=0.1)); sd["ln_f.bias"] = w(C, std=0.05)
    # as real GPT-2 files: the mask buffers, and a tied copy of the LM head
    files = {k: ("F32", v) for k, v in sd.items()}
    for l in range(L):
        files[f"h.{l}.attn.bias"] = ("F32", np.tril(np.ones((Tm, Tm), np.float32)).reshape(1, 1, Tm, Tm))
        files[f"h.{l}.attn.masked_bias"] = ("F32", np.array(-1e4, np.float32))
    files["lm_head.weight"] = ("F32", sd["wte.weight"])
    for sub, tensors, meta in (("hf", files, {"format": "pt"}),
                               ("hf16", {"transformer." + k: ("F16", v) for k, v in sd.items()}, None)):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        json.dump(c, open(os.path.join(d, sub, "config.json"), "w"))
        write_safetensors(os.path.join(d, sub, "model.safetensors"), tensors, meta)
    batch = json.load(open(os.path.join(d, "batch.json")))
    out = {sub: run(load_hf(os.path.join(d, sub)), batch) for sub in ("hf", "hf16")}
    json.dump(out, open(os.path.join(d, "make.json"), "w"))


if __name__ == "__main__":
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        make(d)
    elif mode == "check":
        sub = sys.argv[3]
        json.dump(run(load_hf(os.path.join(d, sub)), json.load(open(os.path.join(d, "batch.json")))), open(os.path.join(d, sub + ".json"), "w"))
    else:
        raise SystemExit(f"unknown mode {mode}")
