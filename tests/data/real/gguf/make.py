#!/usr/bin/env python3
"""Writes the GGUF test files of tests/data/real/gguf and their expected values.

A GGUF writer written from ggml's specification (docs/gguf.md), a NumPy
dequantization of every block type written from ggml's reference
dequantize_row_* (ggml/src/ggml-quants.c), and NumPy quantizers following
quantize_row_q8_0_ref / quantize_row_q4_0_ref. The container is cross-checked
by an independent parser, the npm package @huggingface/gguf (crosscheck/):
make.py fails when its view of any file differs from the writer's.

Run: /usr/bin/python3 tests/data/real/gguf/make.py   (needs python3-numpy, node, npm)
"""
import json, os, struct, subprocess, sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dequant import dequantize, block_scales, BLOCKS, SCALE_OFFSETS  # noqa: E402

# ggml type ids (ggml.h)
GGML = {'F32': 0, 'F16': 1, 'Q4_0': 2, 'Q4_1': 3, 'Q5_0': 6, 'Q5_1': 7, 'Q8_0': 8, 'Q2_K': 10, 'Q3_K': 11,
        'Q4_K': 12, 'Q5_K': 13, 'Q6_K': 14, 'IQ4_NL': 20, 'IQ3_S': 21, 'IQ4_XS': 23, 'I8': 24, 'I16': 25, 'I32': 26, 'I64': 27, 'F64': 28, 'BF16': 30,
        'TQ1_0': 34, 'TQ2_0': 35, 'MXFP4': 39, 'NVFP4': 40}
PLAIN = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8', 'I8': 'i1', 'I16': '<i2', 'I32': '<i4', 'I64': '<i8'}
# metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
VALUE_NAMES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array',
               'uint64', 'int64', 'float64']
SCALAR = {U8: '<B', I8: '<b', U16: '<H', I16: '<h', U32: '<I', I32: '<i', F32: '<f', BOOL: '<?', U64: '<Q',
          I64: '<q', F64: '<d'}


def gstr(s):
    b = s.encode('utf-8')
    return struct.pack('<Q', len(b)) + b


def value_bytes(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        return struct.pack('<IQ', et, len(items)) + b''.join(value_bytes(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def write_gguf(path, version, metadata, tensors, alignment=32):
    """metadata: [(key, type, value)]; tensors: [(name, ggml type name, ne, bytes)]."""
    out = bytearray(b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(metadata)))
    for k, t, v in metadata:
        out += gstr(k) + struct.pack('<I', t) + value_bytes(t, v)
    offset, offsets = 0, []
    for name, tname, ne, data in tensors:
        offsets.append(offset)
        out += gstr(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne)
        out += struct.pack('<IQ', GGML[tname], offset)
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += b'\0' * ((-len(out)) % alignment)
    for (name, tname, ne, data), off in zip(tensors, offsets):
        out += data + b'\0' * ((-len(data)) % alignment)
    with open(path, 'wb') as f:
        f.write(out)
    return offsets


def random_blocks(rng, tname, nblocks, zero=(), nan=(), inf=()):
    """Random block bytes whose float16 scales are finite, in [1e-3, 0.1] in magnitude."""
    size = BLOCKS[tname][1]
    raw = rng.integers(0, 256, nblocks * size, dtype=np.uint8).reshape(nblocks, size)
    for off in SCALE_OFFSETS[tname]:
        d = (rng.uniform(1e-3, 0.1, nblocks) * rng.choice([-1.0, 1.0], nblocks)).astype('<f2')
        raw[:, off:off + 2] = d.view(np.uint8).reshape(nblocks, 2)
    for b in zero:
        for off in SCALE_OFFSETS[tname]:
            raw[b, off:off + 2] = 0
    for b, bits in [(b, 0x7E00) for b in nan] + [(b, 0x7C00) for b in inf]:
        raw[b, SCALE_OFFSETS[tname][0]:SCALE_OFFSETS[tname][0] + 2] = np.frombuffer(struct.pack('<H', bits), np.uint8)
    return raw.tobytes()


def quantize_q8_0(x):
    """quantize_row_q8_0_ref: d = amax / 127, q = round(x / d)."""
    x = x.astype(np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.round(x * idv[:, None])  # roundf: ties away from zero; ties are measure zero here
    q = np.clip(q, -128, 127).astype(np.int8)
    out = np.zeros((x.shape[0], 34), np.uint8)
    out[:, 0:2] = d.astype('<f2').view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    """quantize_row_q4_0_ref: max = the value of largest magnitude, d = max / -8,
    q = min(15, (int8)(x / d + 8.5)); qs[j] = q[j] | q[j + 16] << 4."""
    x = x.astype(np.float32).reshape(-1, 32)
    idx = np.abs(x).argmax(axis=1)
    mx = x[np.arange(x.shape[0]), idx]
    d = (mx / np.float32(-8)).astype(np.float32)
    idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.minimum(15, np.trunc(x * idv[:, None] + np.float32(8.5)).astype(np.int32)).astype(np.uint8)
    out = np.zeros((x.shape[0], 18), np.uint8)
    out[:, 0:2] = d.astype('<f2').view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def rope_permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: rows reordered within each head."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def values_of(tname, data, count):
    if tname in BLOCKS:
        return dequantize(tname, data).astype(np.float64)
    if tname == 'BF16':
        return (np.frombuffer(data, '<u2').astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return np.frombuffer(data, PLAIN[tname]).astype(np.float64)


def stats(v):
    fin = v[np.isfinite(v)]
    num = lambda a: None if a is None or not np.isfinite(a) else float(a)
    return {'count': int(v.size), 'nan_count': int(np.isnan(v).sum()), 'inf_count': int(np.isinf(v).sum()),
            'zero_count': int((v == 0).sum()),
            'mean': num(fin.mean()) if fin.size else None, 'std': num(fin.std()) if fin.size else None,
            'min': num(fin.min()) if fin.size else None, 'max': num(fin.max()) if fin.size else None,
            'l2_norm': float(np.sqrt((fin * fin).sum()))}


def health(tname, data):
    scales = block_scales(tname, data)
    d = scales[0]
    bad = ~np.isfinite(d)
    for m in scales[1:]:
        bad |= ~np.isfinite(m)
    a = np.abs(d[np.isfinite(d)])
    return {'blocks': int(d.size), 'zero_scale_blocks': int((a == 0).sum()),
            'nonfinite_scale_blocks': int(bad.sum()),
            'scale_min': float(a.min()), 'scale_max': float(a.max()), 'scale_mean': float(a.mean())}


def mxfp4_blocks(rng, nblocks, exponents=None):
    """Random MXFP4 blocks: exponent bytes in 118..130 (scales 2^-10 to 2^2), or the given ones."""
    raw = rng.integers(0, 256, nblocks * 17, dtype=np.uint8).reshape(nblocks, 17)
    raw[:, 0] = rng.integers(118, 131, nblocks) if exponents is None else exponents
    return raw.tobytes()


def train_tiny_llama(hidden, ffn, vocab, heads, kv_heads, steps=400):
    """A two-layer Llama (RMSNorm, grouped-query causal attention with rotary
    embeddings, SwiGLU) trained with Adam on a synthetic next-token task, so
    that the quantized weights are trained ones. Named as Hugging Face names
    LlamaForCausalLM's parameters. Seeded, one thread."""
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(1)
    nn = torch.nn
    hd = hidden // heads

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(hidden))

        def forward(self, x):
            return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def rope(x, pos):
        half = hd // 2
        freq = 10000 ** (-torch.arange(half, dtype=torch.float32) / half)
        ang = pos[:, None] * freq[None, :]
        cos, sin = ang.cos(), ang.sin()
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(hidden, hidden, bias=False)
            self.k_proj = nn.Linear(hidden, hd * kv_heads, bias=False)
            self.v_proj = nn.Linear(hidden, hd * kv_heads, bias=False)
            self.o_proj = nn.Linear(hidden, hidden, bias=False)

        def forward(self, x):
            b, t, _ = x.shape
            pos = torch.arange(t, dtype=torch.float32)
            q = rope(self.q_proj(x).view(b, t, heads, hd).transpose(1, 2), pos)
            k = rope(self.k_proj(x).view(b, t, kv_heads, hd).transpose(1, 2), pos)
            v = self.v_proj(x).view(b, t, kv_heads, hd).transpose(1, 2)
            k = k.repeat_interleave(heads // kv_heads, dim=1)
            v = v.repeat_interleave(heads // kv_heads, dim=1)
            att = (q @ k.transpose(-1, -2)) / hd ** 0.5
            att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float('-inf')).softmax(-1)
            return self.o_proj((att @ v).transpose(1, 2).reshape(b, t, hidden))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(hidden, ffn, bias=False)
            self.up_proj = nn.Linear(hidden, ffn, bias=False)
            self.down_proj = nn.Linear(ffn, hidden, bias=False)

        def forward(self, x):
            return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.self_attn, self.mlp = Attention(), MLP()
            self.input_layernorm, self.post_attention_layernorm = RMSNorm(), RMSNorm()

        def forward(self, x):
            x = x + self.self_attn(self.input_layernorm(x))
            return x + self.mlp(self.post_attention_layernorm(x))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(vocab, hidden)
            self.layers = nn.ModuleList([Layer(), Layer()])
            self.norm = RMSNorm()

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Model()
            self.lm_head = nn.Linear(hidden, vocab, bias=False)

        def forward(self, ids):
            x = self.model.embed_tokens(ids)
            for layer in self.model.layers:
                x = layer(x)
            return self.lm_head(self.model.norm(x))

    lm = LM()
    for p in lm.parameters():
        if p.dim() == 2:
            nn.init.normal_(p, std=0.02)
    opt = torch.optim.Adam(lm.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    # Sequences of an arithmetic progression mod `vocab` with a random start and step:
    # the next token is predictable from the two before it.
    for step in range(steps):
        start = torch.randint(0, vocab, (32, 1), generator=g)
        stride = torch.randint(1, 8, (32, 1), generator=g)
        ids = (start + stride * torch.arange(33)[None, :]) % vocab
        loss = nn.functional.cross_entropy(lm(ids[:, :-1]).reshape(-1, vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f'tiny llama trained: loss {loss.item():.3f} after {steps} steps')
    return {k: v.detach().numpy().astype(np.float32) for k, v in lm.state_dict().items()}


def main():
    out = HERE
    rng = np.random.default_rng(20261205)
    expected, files = [], {}

    # a. every metadata value type and every tensor type, version 3
    meta = [('general.architecture', STRING, 'llama'), ('general.name', STRING, 'gradcheck test'),
            ('test.uint8', U8, 200), ('test.int8', I8, -100), ('test.uint16', U16, 60000), ('test.int16', I16, -30000),
            ('test.uint32', U32, 4000000000), ('test.int32', I32, -2000000000), ('test.float32', F32, 0.5),
            ('test.bool', BOOL, True), ('test.string', STRING, 'grüße, 重み'), ('test.uint64', U64, 2 ** 60),
            ('test.int64', I64, -2 ** 60), ('test.float64', F64, 0.1),
            ('test.array_int32', ARRAY, (I32, [1, -2, 3, -4, 5, -6, 7, -8, 9, -10])),
            ('test.array_string', ARRAY, (STRING, ['<unk>', '<s>', '</s>'])),
            ('test.array_array', ARRAY, (ARRAY, [(U8, [1, 2]), (U8, [3])]))]
    tensors = []
    for tname in ['F32', 'F16', 'F64', 'I8', 'I16', 'I32']:
        ne = [16, 3]
        if tname.startswith('I'):
            a = rng.integers(-100, 100, 48).astype(PLAIN[tname])
        else:
            a = rng.standard_normal(48).astype(PLAIN[tname])
        tensors.append((tname.lower() + '.weight', tname, ne, a.tobytes()))
    bf = (rng.standard_normal(48).astype(np.float32).view(np.uint32) >> 16).astype('<u2')
    tensors.append(('bf16.weight', 'BF16', [16, 3], bf.tobytes()))
    for tname in ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS']:
        block = BLOCKS[tname][0]
        ne = [512, 3] if block == 256 else [64, 5]
        if tname == 'Q8_0':
            ne = [32, 2, 3]  # a 3-D tensor
        if tname == 'Q4_0':
            ne = [96]        # a 1-D tensor
        n = int(np.prod(ne))
        tensors.append((tname.lower() + '.weight', tname, ne, random_blocks(rng, tname, n // block)))
    # A type without a dequantizer in gradcheck (IQ3_S, 256 values in 110 bytes): listed, not read.
    tensors.append(('iq3_s.weight', 'IQ3_S', [256, 2], rng.integers(0, 256, 220, dtype=np.uint8).tobytes()))
    # Types added later draw from their own generator, so that the tensors above (and the files
    # below) stay byte for byte what they were.
    rng2 = np.random.default_rng(20261206)
    tensors.append(('mxfp4.weight', 'MXFP4', [64, 5], mxfp4_blocks(rng2, 10)))
    # every kind of exponent byte: subnormal scales (0, 1), 2^-1 and 2^0 (127, 128), and the
    # largest (253-255), where codes of 4 and more overflow float32 to infinity as in the reference
    tensors.append(('mxfp4_extremes.weight', 'MXFP4', [32, 8],
                    mxfp4_blocks(rng2, 8, exponents=[0, 1, 254, 255, 253, 127, 128, 2])))
    # NVFP4: scale bytes for 2^-8 to 2^2 (exponents 0-9, the top bit random), and a tensor of
    # every special byte: 0x00 and 0x7F (read as 0), 0x80 (exponent 0, mantissa 0: 0), 0x01
    # (subnormal), 0x38 (1), 0x7E and 0xFF (the largest: 224 and 240 as halved), 0x87
    nv = rng2.integers(0, 256, 5 * 36, dtype=np.uint8).reshape(5, 36)
    nv[:, :4] = (rng2.integers(0, 10, (5, 4)) << 3) | rng2.integers(0, 8, (5, 4)) | (rng2.integers(0, 2, (5, 4)) << 7)
    tensors.append(('nvfp4.weight', 'NVFP4', [64, 5], nv.tobytes()))
    nx = rng2.integers(0, 256, 2 * 36, dtype=np.uint8).reshape(2, 36)
    nx[:, :4] = [[0x01, 0x00, 0x7F, 0x80], [0x38, 0x7E, 0xFF, 0x87]]
    tensors.append(('nvfp4_extremes.weight', 'NVFP4', [128], nx.tobytes()))
    tensors.append(('tq1_0.weight', 'TQ1_0', [512, 3], random_blocks(rng2, 'TQ1_0', 6)))
    tensors.append(('tq2_0.weight', 'TQ2_0', [512, 3], random_blocks(rng2, 'TQ2_0', 6)))
    write_gguf(os.path.join(out, 'types_v3.gguf'), 3, meta, tensors)
    files['types_v3.gguf'] = (3, meta, tensors, 32)

    # b. version 2, alignment 64
    meta2 = [('general.architecture', STRING, 'llama'), ('general.alignment', U32, 64)]
    t2 = [('a', 'F32', [10], rng.standard_normal(10).astype('<f4').tobytes()),
          ('b', 'Q8_0', [64, 2], random_blocks(rng, 'Q8_0', 4)),
          ('c', 'Q4_K', [256, 2], random_blocks(rng, 'Q4_K', 2))]
    write_gguf(os.path.join(out, 'alignment_v2.gguf'), 2, meta2, t2, alignment=64)
    files['alignment_v2.gguf'] = (2, meta2, t2, 64)

    # c. degenerate blocks
    meta3 = [('general.architecture', STRING, 'llama')]
    t3 = [('broken.weight', 'Q8_0', [256, 8], random_blocks(rng, 'Q8_0', 64, zero=range(8), nan=[20], inf=[40])),
          ('collapsed.weight', 'Q4_K', [256, 4], random_blocks(rng, 'Q4_K', 4, zero=[2])),
          ('healthy.weight', 'Q8_0', [256, 8], random_blocks(rng, 'Q8_0', 64))]
    write_gguf(os.path.join(out, 'degenerate.gguf'), 3, meta3, t3)
    files['degenerate.gguf'] = (3, meta3, t3, 32)

    # d. a Llama-shaped checkpoint and its Q4_0 conversion (llama.cpp's names, rotary rows reordered)
    hidden, ffn, vocab, heads, kv_heads = 64, 128, 256, 4, 2
    hf = {'model.embed_tokens.weight': (vocab, hidden)}
    for i in range(2):
        p = f'model.layers.{i}.'
        hf.update({p + 'self_attn.q_proj.weight': (hidden, hidden),
                   p + 'self_attn.k_proj.weight': (hidden // heads * kv_heads, hidden),
                   p + 'self_attn.v_proj.weight': (hidden // heads * kv_heads, hidden),
                   p + 'self_attn.o_proj.weight': (hidden, hidden), p + 'mlp.gate_proj.weight': (ffn, hidden),
                   p + 'mlp.up_proj.weight': (ffn, hidden), p + 'mlp.down_proj.weight': (hidden, ffn),
                   p + 'input_layernorm.weight': (hidden,), p + 'post_attention_layernorm.weight': (hidden,)})
    hf.update({'model.norm.weight': (hidden,), 'lm_head.weight': (vocab, hidden)})
    arrays = train_tiny_llama(hidden, ffn, vocab, heads, kv_heads)
    assert {k: tuple(v.shape) for k, v in arrays.items()} == hf
    header, blob = {}, b''
    for name, a in arrays.items():
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [len(blob), len(blob) + a.nbytes]}
        blob += a.tobytes()
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((-len(h)) % 8)
    with open(os.path.join(out, 'tiny_llama.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + blob)
    names = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight',
             'lm_head.weight': 'output.weight'}
    for i in range(2):
        for a, b in [('self_attn.q_proj', 'attn_q'), ('self_attn.k_proj', 'attn_k'), ('self_attn.v_proj', 'attn_v'),
                     ('self_attn.o_proj', 'attn_output'), ('mlp.gate_proj', 'ffn_gate'), ('mlp.up_proj', 'ffn_up'),
                     ('mlp.down_proj', 'ffn_down'), ('input_layernorm', 'attn_norm'),
                     ('post_attention_layernorm', 'ffn_norm')]:
            names[f'model.layers.{i}.{a}.weight'] = f'blk.{i}.{b}.weight'
    meta4 = [('general.architecture', STRING, 'llama'), ('general.name', STRING, 'tiny llama'),
             ('general.file_type', U32, 2), ('llama.embedding_length', U32, hidden),
             ('llama.block_count', U32, 2), ('llama.feed_forward_length', U32, ffn),
             ('llama.attention.head_count', U32, heads), ('llama.attention.head_count_kv', U32, kv_heads)]
    t4 = []
    for name, a in arrays.items():
        g = names[name]
        if g.endswith('attn_q.weight'):
            a = rope_permute(a, heads)
        if g.endswith('attn_k.weight'):
            a = rope_permute(a, kv_heads)
        ne = list(reversed(a.shape))
        if a.ndim == 1:
            t4.append((g, 'F32', ne, a.astype('<f4').tobytes()))
        elif g in ('token_embd.weight', 'output.weight'):
            t4.append((g, 'Q8_0', ne, quantize_q8_0(a)))
        else:
            t4.append((g, 'Q4_0', ne, quantize_q4_0(a)))
    write_gguf(os.path.join(out, 'tiny_llama.Q4_0.gguf'), 3, meta4, t4)
    files['tiny_llama.Q4_0.gguf'] = (3, meta4, t4, 32)

    for file, (version, meta_, tensors_, alignment) in files.items():
        for name, tname, ne, data in tensors_:
            n = int(np.prod(ne))
            if tname not in BLOCKS and tname not in PLAIN and tname != 'BF16':
                expected.append({'file': file, 'name': name, 'type': tname, 'skipped': True, 'bytes': len(data)})
                continue
            v = values_of(tname, data, n)
            assert v.size == n, (file, name)
            e = {'file': file, 'name': name, 'type': tname, 'shape': list(reversed(ne))}
            e.update(stats(v))
            if file == 'types_v3.gguf':
                e['first'] = [float(x) for x in v[:8]]
                e['last'] = [float(x) for x in v[-8:]]
                # every value in its place: the finite values weighted by a pseudo-random weight of their
                # index, (i * 2654435761 mod 1000) / 1000
                w = (np.arange(v.size, dtype=np.uint64) * np.uint64(2654435761) % np.uint64(1000)).astype(np.float64) / 1000
                fin = np.isfinite(v)
                e['weighted_sum'] = float((v[fin] * w[fin]).sum())
            if tname in BLOCKS:
                e.update(health(tname, data))
            expected.append(e)
    metadata = {}
    for file, (version, meta_, tensors_, alignment) in files.items():
        metadata[file] = [[k, VALUE_NAMES[t], v if t != ARRAY else plain_array(v)] for k, t, v in meta_]
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump({'tensors': expected, 'metadata': metadata}, f, indent=1)
        f.write('\n')

    crosscheck(out, files)


def plain_array(v):
    """An ARRAY value (element type, items) as a JSON list (arrays of arrays as lists of lists)."""
    et, items = v
    return [plain_array(x) for x in items] if et == ARRAY else list(items)


def crosscheck(out, files):
    """Every file parsed by @huggingface/gguf: version, metadata and tensor infos must equal the writer's."""
    cc = os.path.join(out, 'crosscheck')
    if not os.path.isdir(os.path.join(cc, 'node_modules', '@huggingface', 'gguf')):
        subprocess.run(['npm', 'ci', '--no-audit', '--no-fund'], cwd=cc, check=True)
    paths = [os.path.join(out, f) for f in files]
    got = json.loads(subprocess.run(['node', os.path.join(cc, 'check.mjs')] + paths, check=True,
                                    capture_output=True, text=True).stdout)
    problems = []
    for file, (version, meta_, tensors_, alignment) in files.items():
        g = got[os.path.join(out, file)]
        if g['version'] != version:
            problems.append(f'{file}: version {g["version"]} != {version}')
        if int(g['tensor_count']) != len(tensors_) or len(g['tensors']) != len(tensors_):
            problems.append(f'{file}: {g["tensor_count"]} tensors ({len(g["tensors"])} infos) != {len(tensors_)}')
        if int(g['kv_count']) != len(meta_) or sorted(g['metadata']) != sorted(k for k, _, _ in meta_):
            problems.append(f'{file}: metadata keys {sorted(g["metadata"])} != {sorted(k for k, _, _ in meta_)}')
        for k, t, v in meta_:
            if k not in g['metadata']:
                problems.append(f'{file}: metadata {k} missing')
                continue
            w = g['metadata'][k]
            if t == ARRAY:
                want = [list(x[1]) for x in v[1]] if v[0] == ARRAY else list(v[1])
            else:
                want = v
            if t in (F32,):
                ok = abs(float(w) - v) < 1e-7
            elif t in (U64, I64):
                ok = int(w) == v
            else:
                ok = w == want
            if not ok:
                problems.append(f'{file}: metadata {k} = {w!r}, written {want!r}')
        offsets, off = [], 0
        for name, tname, ne, data in tensors_:
            offsets.append(off)
            off += (len(data) + alignment - 1) // alignment * alignment
        infos = {t['name']: t for t in g['tensors']}
        for (name, tname, ne, data), o in zip(tensors_, offsets):
            t = infos.get(name)
            if t is None or [int(x) for x in t['shape']] != ne or t['dtype'] != GGML[tname] or int(t['offset']) != o:
                problems.append(f'{file}: tensor {name}: parser {t}, written ne {ne} type {GGML[tname]} offset {o}')
    if problems:
        sys.exit('cross-check with @huggingface/gguf failed:\n' + '\n'.join(problems))
    print(f'cross-check with @huggingface/gguf: {len(files)} files agree')


if __name__ == '__main__':
    main()
