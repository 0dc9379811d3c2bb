#!/usr/bin/env python3
"""Writes the training checkpoints beside this script with Debian's python3-torch
(1.13): the usual torch.save({"model": ..., "optimizer": ..., "epoch": ...}) of a
small MLP after a few steps of Adam, and of SGD with momentum, at sane learning rates and at
rates far off (Adam at 1.0, SGD at 1e-7). Deterministic
(seeded); run from anywhere: python3 make.py"""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))


def train(optimizer_of, steps=3):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    opt = optimizer_of(model.parameters())
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, opt


for name, make in [("adam", lambda p: torch.optim.Adam(p, lr=1e-3)),
                   ("sgd_momentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
                   # learning rates far off: Adam at 1.0, SGD with momentum at 1e-7
                   ("adam_lr1", lambda p: torch.optim.Adam(p, lr=1.0)),
                   ("sgd_lr1e-7", lambda p: torch.optim.SGD(p, lr=1e-7, momentum=0.9))]:
    model, opt = train(make)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
               os.path.join(here, f"{name}.pt"))
