"""NumPy dequantization of ggml's block types, written from ggml's reference
dequantize_row_* (ggml/src/ggml-quants.c) and block layouts (ggml-common.h):
float32 arithmetic in the reference's order, vectorised over blocks."""
import numpy as np

# type: (values per block, bytes per block)
BLOCKS = {'Q8_0': (32, 34), 'Q4_0': (32, 18), 'Q4_1': (32, 20), 'Q5_0': (32, 22), 'Q5_1': (32, 24),
          'Q2_K': (256, 84), 'Q3_K': (256, 110), 'Q4_K': (256, 144), 'Q5_K': (256, 176), 'Q6_K': (256, 210),
          'IQ4_NL': (32, 18), 'IQ4_XS': (256, 136), 'MXFP4': (32, 17), 'TQ1_0': (256, 54), 'TQ2_0': (256, 66),
          'NVFP4': (64, 36)}
# byte offsets of the float16 scale d and, for the types with one, the minimum m / dmin
# (MXFP4's scale is not a float16: its exponent byte is byte 0, see block_scales)
SCALE_OFFSETS = {'Q8_0': [0], 'Q4_0': [0], 'Q4_1': [0, 2], 'Q5_0': [0], 'Q5_1': [0, 2], 'Q2_K': [80, 82],
                 'Q3_K': [108], 'Q4_K': [0, 2], 'Q5_K': [0, 2], 'Q6_K': [208], 'IQ4_NL': [0], 'IQ4_XS': [0],
                 'TQ1_0': [52], 'TQ2_0': [64]}
# ggml's non-linear 4-bit code book (kvalues_iq4nl in ggml-common.h)
IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.int8)
# E2M1 doubled, as ggml stores it (kvalues_mxfp4 in ggml-common.h): 0, 0.5, 1, 1.5, 2, 3, 4, 6 times 2, and negatives
MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], np.int8)

f32=np.float32
def h(raw, off): return raw[:, off:off+2].copy().view('<f2').astype(f32)[:,0]
def e8m0_half(e):
    """ggml_e8m0_to_fp32_half: the float with bits 0x00200000 << e for e < 2, else (e - 1) << 23: 2^(e - 128)."""
    e = e.astype(np.uint32)
    return np.where(e < 2, np.uint32(0x00200000) << e, (e - 1) << 23).astype(np.uint32).view(f32)
def ue4m3_half(x):
    """ggml_ue4m3_to_fp32: 0 for 0x00 and 0x7F, else exponent bits 6-3 (bias 7), mantissa bits 2-0
    (subnormal at exponent 0), times 0.5; bit 7 is not read."""
    x = x.astype(np.int64); e = (x >> 3) & 15; m = x & 7
    raw = np.where(e == 0, np.ldexp(m.astype(np.float64), -9), np.ldexp(1.0 + m / 8.0, e - 7))
    return np.where((x == 0) | (x == 0x7F), 0.0, raw * 0.5).astype(f32)
def block_scales(t, raw):
    """Per block: d (and the minimum for the types with one) as the reference uses them, in float64."""
    B = np.frombuffer(raw, np.uint8).reshape(-1, BLOCKS[t][1])
    if t == 'MXFP4':
        return [e8m0_half(B[:, 0]).astype(np.float64)]
    if t == 'NVFP4':  # one scale per 16-value sub-block, in order
        return [ue4m3_half(B[:, :4]).astype(np.float64).ravel()]
    return [B[:, o:o + 2].copy().view('<f2')[:, 0].astype(np.float64) for o in SCALE_OFFSETS[t]]
def dequantize(t, raw):
    """The float32 values of the blocks in `raw` (bytes) of type `t`."""
    raw=np.frombuffer(raw,dtype=np.uint8)
    if t=='Q8_0':
        B=raw.reshape(-1,34); d=h(B,0); q=B[:,2:].view(np.int8).astype(f32); return (q*d[:,None]).astype(f32).ravel()
    if t in ('Q4_0','Q4_1'):
        n=18 if t=='Q4_0' else 20; B=raw.reshape(-1,n); d=h(B,0); qs=B[:,n-16:]
        q=np.concatenate([qs&15, qs>>4],axis=1).astype(np.int32)
        if t=='Q4_0': return ((q-8).astype(f32)*d[:,None]).astype(f32).ravel()
        m=h(B,2); return ((q.astype(f32)*d[:,None]).astype(f32)+m[:,None]).astype(f32).ravel()
    if t in ('Q5_0','Q5_1'):
        n=22 if t=='Q5_0' else 24; B=raw.reshape(-1,n); d=h(B,0); o=2 if t=='Q5_0' else 4
        qh=B[:,o:o+4].copy().view('<u4')[:,0]; qs=B[:,o+4:]
        bits=((qh[:,None]>>np.arange(32,dtype=np.uint32))&1).astype(np.int32)
        q=np.concatenate([qs&15, qs>>4],axis=1).astype(np.int32)|(bits<<4)
        if t=='Q5_0': return ((q-16).astype(f32)*d[:,None]).astype(f32).ravel()
        m=h(B,2); return ((q.astype(f32)*d[:,None]).astype(f32)+m[:,None]).astype(f32).ravel()
    if t=='Q2_K':
        B=raw.reshape(-1,84); sc=B[:,:16]; qs=B[:,16:80]; d=h(B,80); dm=h(B,82)
        out=np.empty((B.shape[0],256),f32)
        for half in range(2):
            q=qs[:,32*half:32*half+32]
            for j in range(4):
                for part in range(2):
                    s=sc[:,half*8+j*2+part]
                    dl=(d*(s&15).astype(f32)).astype(f32); ml=(dm*(s>>4).astype(f32)).astype(f32)
                    v=((q[:,16*part:16*part+16]>>(2*j))&3).astype(f32)
                    out[:,half*128+j*32+part*16:half*128+j*32+part*16+16]=(dl[:,None]*v).astype(f32)-ml[:,None]
        return out.ravel()
    if t=='Q3_K':
        B=raw.reshape(-1,110); hm=B[:,:32]; qs=B[:,32:96]; p=B[:,96:108].astype(np.int32); d=h(B,108)
        scale=np.empty((B.shape[0],16),np.int32)
        for s in range(16):
            low=(p[:,s]&15) if s<8 else (p[:,s-8]>>4)
            high=(p[:,8+s%4]>>(2*(s//4)))&3
            scale[:,s]=(low|(high<<4))-32
        out=np.empty((B.shape[0],256),f32); bit=0
        for half in range(2):
            q=qs[:,32*half:32*half+32]
            for j in range(4):
                for part in range(2):
                    s=half*8+j*2+part
                    dl=(d*scale[:,s].astype(f32)).astype(f32)
                    k=slice(16*part,16*part+16)
                    v=((q[:,k]>>(2*j))&3).astype(np.int32)-np.where(hm[:,k]&(1<<bit),0,4)
                    out[:,half*128+j*32+part*16:half*128+j*32+part*16+16]=dl[:,None]*v.astype(f32)
                bit+=1
        return out.ravel()
    def scm(p,j):
        if j<4: return p[:,j]&63, p[:,j+4]&63
        return (p[:,j+4]&15)|((p[:,j-4]>>6)<<4), (p[:,j+4]>>4)|((p[:,j]>>6)<<4)
    if t in ('Q4_K','Q5_K'):
        n=144 if t=='Q4_K' else 176; B=raw.reshape(-1,n); d=h(B,0); dm=h(B,2); p=B[:,4:16].astype(np.int32)
        qh=B[:,16:48] if t=='Q5_K' else None; qs=B[:,n-128:]
        out=np.empty((B.shape[0],256),f32)
        for g in range(4):
            q=qs[:,32*g:32*g+32].astype(np.int32)
            for part in range(2):
                sc,m=scm(p,2*g+part)
                dl=(d*sc.astype(f32)).astype(f32); ml=(dm*m.astype(f32)).astype(f32)
                v=(q&15) if part==0 else (q>>4)
                if qh is not None: v=v+(((qh.astype(np.int32)>>(2*g+part))&1)<<4)
                out[:,64*g+32*part:64*g+32*part+32]=(dl[:,None]*v.astype(f32)).astype(f32)-ml[:,None]
        return out.ravel()
    if t=='Q6_K':
        B=raw.reshape(-1,210); ql=B[:,:128].astype(np.int32); qh=B[:,128:192].astype(np.int32); sc=B[:,192:208].view(np.int8).astype(f32); d=h(B,208)
        out=np.empty((B.shape[0],256),f32)
        for half in range(2):
            L=ql[:,64*half:64*half+64]; H=qh[:,32*half:32*half+32]; S=sc[:,8*half:8*half+8]
            for l in range(32):
                i=l//16
                q1=((L[:,l]&15)|(((H[:,l]>>0)&3)<<4))-32
                q2=((L[:,l+32]&15)|(((H[:,l]>>2)&3)<<4))-32
                q3=((L[:,l]>>4)|(((H[:,l]>>4)&3)<<4))-32
                q4=((L[:,l+32]>>4)|(((H[:,l]>>6)&3)<<4))-32
                for k,(q,si) in enumerate([(q1,i),(q2,i+2),(q3,i+4),(q4,i+6)]):
                    out[:,128*half+32*k+l]=((d*S[:,si]).astype(f32)*q.astype(f32)).astype(f32)
        return out.ravel()
    if t == 'IQ4_NL':
        B = raw.reshape(-1, 18); d = h(B, 0); qs = B[:, 2:]
        q = np.concatenate([qs & 15, qs >> 4], axis=1)
        return (d[:, None] * IQ4NL[q].astype(f32)).astype(f32).ravel()
    if t == 'IQ4_XS':
        B = raw.reshape(-1, 136); d = h(B, 0); hi = B[:, 2:4].copy().view('<u2')[:, 0].astype(np.int32)
        lo = B[:, 4:8].astype(np.int32); qs = B[:, 8:]
        out = np.empty((B.shape[0], 256), f32)
        for ib in range(8):
            ls = ((lo[:, ib // 2] >> (4 * (ib % 2))) & 15) | (((hi >> (2 * ib)) & 3) << 4)
            dl = (d * (ls - 32).astype(f32)).astype(f32)
            q = qs[:, 16 * ib:16 * ib + 16]
            out[:, 32 * ib:32 * ib + 16] = dl[:, None] * IQ4NL[q & 15].astype(f32)
            out[:, 32 * ib + 16:32 * ib + 32] = dl[:, None] * IQ4NL[q >> 4].astype(f32)
        return out.ravel()
    if t == 'MXFP4':
        B = raw.reshape(-1, 17); d = e8m0_half(B[:, 0]); qs = B[:, 1:]
        q = np.concatenate([qs & 15, qs >> 4], axis=1)
        with np.errstate(over='ignore'):  # codes times 2^126 or 2^127 overflow to infinity, as in the reference
            return (MXFP4[q].astype(f32) * d[:, None]).astype(f32).ravel()
    if t == 'NVFP4':
        B = raw.reshape(-1, 36); d = ue4m3_half(B[:, :4]); out = np.empty((B.shape[0], 64), f32)
        for s in range(4):
            qs = B[:, 4 + 8 * s:12 + 8 * s]
            out[:, 16 * s:16 * s + 8] = MXFP4[qs & 15].astype(f32) * d[:, s:s + 1]
            out[:, 16 * s + 8:16 * s + 16] = MXFP4[qs >> 4].astype(f32) * d[:, s:s + 1]
        return out.ravel()
    if t == 'TQ1_0':
        B = raw.reshape(-1, 54); d = h(B, 52)
        pow3 = np.array([1, 3, 9, 27, 81], np.uint16)
        def digits(b, n):  # (uint8(b * 3^n) * 3) >> 8, minus 1
            return ((((b.astype(np.uint16) * pow3[n]) & 255) * 3) >> 8).astype(np.int16) - 1
        parts = [digits(B[:, 0:32], n) for n in range(5)] + [digits(B[:, 32:48], n) for n in range(5)] + \
                [digits(B[:, 48:52], n) for n in range(4)]
        q = np.concatenate(parts, axis=1)
        return (q.astype(f32) * d[:, None]).astype(f32).ravel()
    if t == 'TQ2_0':
        B = raw.reshape(-1, 66); d = h(B, 64); qs = B[:, :64]
        parts = [((qs[:, j:j + 32] >> s) & 3).astype(np.int16) - 1 for j in (0, 32) for s in (0, 2, 4, 6)]
        q = np.concatenate(parts, axis=1)
        return (q.astype(f32) * d[:, None]).astype(f32).ravel()
    raise ValueError(t)
