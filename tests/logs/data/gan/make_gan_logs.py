"""Writes the GAN training logs of this folder: a small GAN (two-layer MLPs, 64 units) trained with
PyTorch on eight Gaussians around a ring, its losses printed as real GAN code prints them.

- pix2pix_loss_log.txt: balanced Adam rates (2e-4, beta1 0.5), the pix2pix/CycleGAN `loss_log.txt`
  layout (`(epoch: 1, iters: 100, time: ..., data: ...) G_GAN: ... D_real: ... D_fake: ...`): the
  losses hover, a healthy run.
- dcgan_d_wins.log: the discriminator trained at 10x the rate and 5 steps per generator step, the
  generator at 1e-5: the discriminator wins (its loss falls towards 0, the generator's climbs), in
  the PyTorch DCGAN example's layout (`[0/5][50/100]\tLoss_D: ...\tLoss_G: ...\tD(x): ...`).
- gan_nan.csv: plain SGD at a rate of 1.0 for both networks: the losses turn NaN at step 13 (a CSV
  of step, loss_G, loss_D, every step).

Run with Debian's python3-torch: python3 make_gan_logs.py (seeded; the files are committed).
"""
import math
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


def ring(n, g):
    k = torch.randint(0, 8, (n,), generator=g)
    angle = k.float() * (2 * math.pi / 8)
    centre = torch.stack([torch.cos(angle), torch.sin(angle)], 1) * 2.0
    return centre + 0.05 * torch.randn(n, 2, generator=g)


def mlp(i, o):
    return nn.Sequential(nn.Linear(i, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, o))


def train(seed, steps, g_opt, d_opt, d_steps=1, least_squares=False, batch=128):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    G, D = mlp(2, 2), mlp(2, 1)
    og, od = g_opt(G.parameters()), d_opt(D.parameters())
    bce = nn.BCEWithLogitsLoss()
    mse = nn.MSELoss()
    crit = mse if least_squares else bce
    rows = []
    for step in range(steps):
        for _ in range(d_steps):
            real = ring(batch, gen)
            fake = G(torch.randn(batch, 2, generator=gen)).detach()
            pr, pf = D(real), D(fake)
            d_real = crit(pr, torch.ones_like(pr))
            d_fake = crit(pf, torch.zeros_like(pf))
            od.zero_grad()
            (d_real + d_fake).backward()
            od.step()
        pf = D(G(torch.randn(batch, 2, generator=gen)))
        g_loss = crit(pf, torch.ones_like(pf))  # non-saturating: fake samples labelled real
        og.zero_grad()
        g_loss.backward()
        og.step()
        rows.append((step, g_loss.item(), (d_real + d_fake).item(), d_real.item(), d_fake.item(),
                     torch.sigmoid(pr).mean().item(), torch.sigmoid(pf).mean().item()))
    return rows


def main():
    adam = lambda lr: (lambda p: torch.optim.Adam(p, lr=lr, betas=(0.5, 0.999)))
    rows = train(1, 3000, adam(2e-4), adam(2e-4))
    with open(os.path.join(HERE, "pix2pix_loss_log.txt"), "w") as f:
        f.write("================ Training Loss (Mon Dec  7 13:40:00 2026) ================\n")
        per_epoch = 600
        for step, g, d, dr, df, _, _ in rows:
            if (step + 1) % 20:
                continue
            epoch, it = step // per_epoch + 1, (step % per_epoch + 1) * 4
            f.write(f"(epoch: {epoch}, iters: {it}, time: 0.004, data: 0.001) G_GAN: {g:.3f} "
                    f"D_real: {0.5 * dr:.3f} D_fake: {0.5 * df:.3f} \n")
    rows = train(2, 1500, adam(1e-5), adam(2e-3), d_steps=5)
    with open(os.path.join(HERE, "dcgan_d_wins.log"), "w") as f:
        f.write("Starting Training Loop...\n")
        for step, g, d, dr, df, dx, dgz in rows:
            if step % 15:
                continue
            f.write(f"[{step // 300}/5][{step % 300}/300]\tLoss_D: {d:.4f}\tLoss_G: {g:.4f}\tD(x): {dx:.4f}\t"
                    f"D(G(z)): {dgz:.4f} / {dgz:.4f}\n")
    sgd = lambda lr: (lambda p: torch.optim.SGD(p, lr=lr))
    rows = train(3, 40, sgd(1.0), sgd(1.0))
    with open(os.path.join(HERE, "gan_nan.csv"), "w") as f:
        f.write("step,loss_G,loss_D\n")
        for step, g, d, *_ in rows:
            f.write(f"{step},{g:.6g},{d:.6g}\n")

if __name__ == "__main__":
    main()
