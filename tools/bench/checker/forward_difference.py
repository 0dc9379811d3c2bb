#!/usr/bin/env python3
"""Can a forward difference settle a float64 coordinate for 1 evaluation instead of 2?

The checker's quick stage in float64 settles a coordinate with one central difference
(2 evaluations) when it agrees with the analytic derivative to p = 1e-7 of the larger of the
derivative and its block's RMS derivative, and its rounding bound is as small. A forward
difference (f(x + h e_i) - f(x)) / h shares f(x) across coordinates, so it costs 1 evaluation,
but its truncation error is h f''/2 instead of h^2 f'''/6. This script measures, on a replica of
the benchmark's mlp10k_f64 in PyTorch (64-128-10 tanh MLP, softmax cross-entropy, LeCun
initialisation, seeded), how many of 1,500 seeded fc1.weight coordinates a forward difference
would settle under the same rule, at steps from 1e-8 to 1e-4 of the coordinate's scale, beside
the central difference at u^(1/4) of the scale. Needs Debian's python3-torch (/usr/bin/python3).
"""
import torch, math
torch.manual_seed(0)
B,I,H,C=32,64,128,10
X=torch.randn(B,I,dtype=torch.float64); y=torch.randint(0,C,(B,))
W1=torch.randn(H,I,dtype=torch.float64)*math.sqrt(1/I); b1=torch.zeros(H,dtype=torch.float64)+0.01*torch.randn(H,dtype=torch.float64)
W2=torch.randn(C,H,dtype=torch.float64)*math.sqrt(1/H); b2=0.01*torch.randn(C,dtype=torch.float64)
shapes=[W1.shape,b1.shape,W2.shape,b2.shape]
x=torch.cat([t.reshape(-1) for t in (W1,b1,W2,b2)])
def f(v):
    o=0; ts=[]
    for s in shapes:
        n=int(torch.tensor(s).prod()); ts.append(v[o:o+n].reshape(s)); o+=n
    w1,bb1,w2,bb2=ts
    z=torch.tanh(X@w1.T+bb1)@w2.T+bb2
    return torch.nn.functional.cross_entropy(z,y)
xv=x.clone().requires_grad_(True); f0=f(xv); g=torch.autograd.grad(f0,xv)[0].detach(); f0=f0.item()
u=2**-53; sigma=max(u*abs(f0), 3e-16); kappa=3
rms=g[:H*I].pow(2).mean().sqrt().item()
rmsx=x.pow(2).mean().sqrt().item()
idx=torch.randperm(H*I)[:1500]
p=1e-7
for rel in [1e-8,1e-7,1e-6,1e-5,1e-4]:
    ok=0
    for i in idx.tolist():
        scale=max(abs(x[i].item()), rmsx, 1e-3); h=rel*scale
        xp=x.clone(); xp[i]+=h; hh=(xp[i]-x[i]).item()
        fd=(f(xp).item()-f0)/hh
        mag=max(abs(g[i].item()),abs(fd),rms)
        r=2*kappa*sigma/hh
        ok+= abs(fd-g[i].item())<=p*mag and r<=p*mag
    print(f"forward, step {rel:g} x scale: {ok}/{len(idx)} settled at p=1e-7 of max(|a|, block rms)")
ok=0
for i in idx.tolist():
    scale=max(abs(x[i].item()), rmsx, 1e-3); h=u**0.25*scale
    xp=x.clone(); xp[i]+=h; xm=x.clone(); xm[i]-=h
    c=(f(xp).item()-f(xm).item())/(xp[i]-xm[i]).item()
    mag=max(abs(g[i].item()),abs(c),rms); r=2*kappa*sigma/(xp[i]-xm[i]).item()+4*u*abs(c)
    ok+= abs(c-g[i].item())<=p*mag and r<=p*mag
print(f"central at u^(1/4) x scale: {ok}/{len(idx)}")
