#!/usr/bin/env python3
"""Writes the torch.save files beside this script with Debian's python3-torch
(1.13): what people save besides a bare state_dict, and pickles that would run
code when loaded with torch.load. Writing them only pickles; nothing here loads
them. Deterministic (seeded); run from anywhere: python3 make.py

- lightning.ckpt: the layout of a PyTorch Lightning checkpoint (state_dict,
  optimizer_states, lr_schedulers, callbacks, hyper_parameters as an
  argparse.Namespace), written by torch.save as Lightning does.
- whole_module.pt: torch.save(model) of a module class defined in a script.
- nested.pt: state_dicts inside lists, dicts and tuples.
- training_args.pt: an object with settings and no tensor (as transformers'
  training_args.bin).
- evil_system.pt, evil_eval.pt, evil_getattr.pt: a state_dict beside an object
  whose unpickling calls os.system, builtins.eval, or builtins.getattr.
"""
import argparse
import builtins
import collections
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2))
        self.register_buffer("running", torch.arange(4, dtype=torch.float32))

    def forward(self, x):
        return self.head(self.fc(x))


class Settings:
    def __init__(self):
        self.output_dir = "out"
        self.learning_rate = 5e-5
        self.num_train_epochs = 3
        self.seed = 42


class System:
    def __reduce__(self):
        return (os.system, ("echo this would have run",))


class Eval:
    def __reduce__(self):
        return (builtins.eval, ("__import__('os').getcwd()",))


class GetAttr:
    def __reduce__(self):
        return (getattr, (torch.nn.Module, "register_forward_hook"))


def model_and_optimizer():
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    x = torch.randn(16, 8)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        sched.step()
    return model, opt, sched


model, opt, sched = model_and_optimizer()
state = collections.OrderedDict(("model." + k, v) for k, v in model.state_dict().items())
torch.save({"epoch": 1, "global_step": 2, "pytorch-lightning_version": "1.9.0",
            "state_dict": state,
            "optimizer_states": [opt.state_dict()],
            "lr_schedulers": [sched.state_dict()],
            "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.25),
                                                                     "best_model_path": "epoch=1.ckpt"}},
            "hyper_parameters": argparse.Namespace(lr=1e-3, hidden=4, name="net")},
           os.path.join(here, "lightning.ckpt"))
torch.save(model, os.path.join(here, "whole_module.pt"))
sd = model.state_dict()
torch.save({"models": [sd, {"encoder": {"fc.weight": sd["fc.weight"]}}],
            "pair": (sd["fc.bias"], {"w": sd["head.1.weight"]}), "note": "nested"},
           os.path.join(here, "nested.pt"))
torch.save(Settings(), os.path.join(here, "training_args.pt"))
for name, payload in [("system", System()), ("eval", Eval()), ("getattr", GetAttr())]:
    torch.save({"model": sd, "payload": payload}, os.path.join(here, f"evil_{name}.pt"))
