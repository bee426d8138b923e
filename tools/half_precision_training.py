"""Train the course's two-layer network on the digits in float16, without and with loss scaling.

Measurements for the half-precision chapter (issue 12); run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python tools/half_precision_training.py

The network is :class:`lossbook.models.TwoLayerNet` (64 pixels, 100 ReLU units, 10 classes; its
initial weights), trained by full-batch gradient descent on the mean cross-entropy. Its forward and
backward passes are written out here in the format under test, because the model class computes in
float64. In float16 every weight, activation and gradient is a float16 array; a matrix product
multiplies float16 numbers, adds in float32 and rounds once (``_matmul``), as PyTorch's CPU kernels
and GPU tensor cores do; the cross-entropy and its gradient come from lossbook in float32, rounded
once, as PyTorch computes them. With a :class:`lossbook.optim.GradScaler`, the backward pass starts
from the gradient of ``scale * loss``, so every float16 gradient is ``scale`` times larger, and the
scaler divides it out in float32 before the step.

First, along a float32 run, it reports which float16 gradients flush to zero, with and without a
scale of 2**16. Then four runs per seed: float32 (the reference), float16, float16 with the scaler,
and float16 with the scaler and float32 master weights (the step updates a float32 copy; the forward
pass uses its float16 rounding). Models are compared on a validation split of the training set; the
test set is not used.
For each run it reports the validation accuracy and training loss at the end, and two diagnostics
measured on float16 gradients of the same weights:

* ``flushed``: the share of gradient entries of ``W1`` that are nonzero in float32 and exactly zero in
  the float16 backward pass (they fell below float16's smallest subnormal number, 2**-24);
* ``lost updates``: the share of weight entries whose float16 update ``w - lr * g`` rounds back to
  ``w`` although ``lr * g`` is not zero (the step is below half the spacing of float16 numbers at w).
"""

import sys
import time

import numpy as np

from lossbook.datasets import load_digits, stratified_split
from lossbook.fused import cross_entropy_value_and_grad
from lossbook.models import TwoLayerNet
from lossbook.optim import GradientDescent, GradScaler

SEEDS = (0, 1, 2)
STEPS = 1500
LR = 0.5
HIDDEN = 100


def _matmul(a, b, dtype):
    """a @ b with products and sums in float32, rounded once to `dtype`."""
    return (a.astype(np.float32) @ b.astype(np.float32)).astype(dtype)


def forward(params, X, dtype):
    hidden = np.maximum(_matmul(X, params["W1"], dtype) + params["b1"].astype(dtype), 0)
    return _matmul(hidden, params["W2"], dtype) + params["b2"].astype(dtype), hidden


def backward(params, X, hidden, dscores, dtype):
    """Gradients of every parameter from the gradient of the scores, every product rounded to `dtype`."""
    dhidden = _matmul(dscores, params["W2"].T, dtype) * (hidden > 0)
    return {
        "W1": _matmul(X.T, dhidden, dtype),
        "b1": dhidden.astype(np.float32).sum(axis=0, keepdims=True).astype(dtype),
        "W2": _matmul(hidden.T, dscores, dtype),
        "b2": dscores.astype(np.float32).sum(axis=0, keepdims=True).astype(dtype),
    }


def loss_and_grads(params, X, y, dtype, scale=1.0):
    """Mean cross-entropy and the gradients of ``scale * loss`` in `dtype` (float32 inside the loss, as PyTorch)."""
    scores, hidden = forward(params, X, dtype)
    loss, dscores = cross_entropy_value_and_grad(scores.astype(np.float32), y)
    return float(loss), backward(params, X, hidden, (dscores * np.float32(scale)).astype(dtype), dtype)


def flushed_share(params, X, y, scale=1.0):
    """Share of W1's gradient entries nonzero in float32 and zero in float16 (same weights, same scale)."""
    w16 = {k: v.astype(np.float16) for k, v in params.items()}
    _, g16 = loss_and_grads(w16, X.astype(np.float16), y, np.float16, scale)
    _, g32 = loss_and_grads({k: v.astype(np.float32) for k, v in w16.items()}, X.astype(np.float32), y,
                            np.float32, scale)
    return float(np.mean((g16["W1"] == 0) & (g32["W1"] != 0)))


def train(X, y, X_val, y_val, seed, mode):
    """One run; mode is "float32", "float16", "float16+scaler" or "float16+scaler+master"."""
    dtype = np.float32 if mode == "float32" else np.float16
    start = TwoLayerNet(X.shape[1], HIDDEN, 10, np.random.default_rng(seed)).params
    master = {k: v.astype(np.float32 if mode in ("float32", "float16+scaler+master") else np.float16)
              for k, v in start.items()}
    scaler = GradScaler() if "scaler" in mode else None
    optimizer = GradientDescent(lr=LR)
    Xd = X.astype(dtype)
    lost, flushed, skipped = [], [], 0
    for step in range(STEPS):
        params = {k: v.astype(dtype) for k, v in master.items()}
        scale = scaler.get_scale() if scaler else 1.0
        loss, grads = loss_and_grads(params, Xd, y, dtype, scale)
        if step in (0, STEPS - 1) and dtype == np.float16:
            flushed.append(flushed_share(master, X, y, scale))
        if scaler is None:
            grads32 = {k: g.astype(np.float32) for k, g in grads.items()}
            before = {k: v.copy() for k, v in master.items()}
            optimizer.step(master, grads32)
        else:
            before = {k: v.copy() for k, v in master.items()}
            skipped += not scaler.step(optimizer, master, grads)
            grads32 = scaler.unscale(grads)
            scaler.update()
        if step == STEPS - 1 and dtype == np.float16:
            w, g = before["W1"], grads32["W1"]
            lost.append(float(np.mean((master["W1"] == w) & (LR * g != 0))))
    params = {k: v.astype(dtype) for k, v in master.items()}
    accuracy = float(np.mean(np.argmax(forward(params, X_val.astype(dtype), dtype)[0], axis=1) == y_val))
    return {"loss": loss, "accuracy": accuracy, "flushed": flushed, "lost": lost, "skipped": skipped,
            "scale": scaler.get_scale() if scaler else None}


def flush_report(X, y, steps=(0, 100, STEPS)):
    """Along a float32 run (seed 0): which float16 gradients flush to zero, and whether scaling saves them."""
    start = TwoLayerNet(X.shape[1], HIDDEN, 10, np.random.default_rng(0)).params
    params = {k: v.astype(np.float32) for k, v in start.items()}
    optimizer = GradientDescent(lr=LR)
    X16, X32 = X.astype(np.float16), X.astype(np.float32)
    for step in range(max(steps) + 1):
        if step in steps:
            p16 = {k: v.astype(np.float16) for k, v in params.items()}
            scores, _ = forward(p16, X16, np.float16)
            _, dscores = cross_entropy_value_and_grad(scores.astype(np.float32), y)
            d16 = dscores.astype(np.float16)
            print(f"step {step}: entries of dscores = (p - y) / N that are 0 in float16 (below 2**-25) "
                  f"{np.mean((d16 == 0) & (dscores != 0)):.3f}, subnormal (below 2**-14) "
                  f"{np.mean((np.abs(d16) < np.finfo(np.float16).smallest_normal) & (d16 != 0)):.3f}; "
                  f"median |dscores| {np.median(np.abs(dscores)):.2e}")
            _, g16 = loss_and_grads(p16, X16, y, np.float16)
            _, g32 = loss_and_grads({k: v.astype(np.float32) for k, v in p16.items()}, X32, y, np.float32)
            _, scaled = loss_and_grads(p16, X16, y, np.float16, scale=2.0**16)
            for name in ("W1", "b1", "W2", "b2"):
                flushed = np.mean((g16[name] == 0) & (g32[name] != 0))
                error = np.linalg.norm(g16[name].astype(np.float64) - g32[name]) / np.linalg.norm(g32[name])
                unscaled = scaled[name].astype(np.float32) / np.float32(2.0**16)
                error_scaled = np.linalg.norm(unscaled.astype(np.float64) - g32[name]) / np.linalg.norm(g32[name])
                print(f"    {name}: flushed {flushed:.3f}, relative error {error:.1e}; with scale 2**16: flushed "
                      f"{np.mean((scaled[name] == 0) & (g32[name] != 0)):.3f}, relative error {error_scaled:.1e}, "
                      f"largest scaled entry {np.max(np.abs(scaled[name].astype(np.float32))):.0f}")
        _, grads = loss_and_grads(params, X32, y, np.float32)
        optimizer.step(params, grads)


def main():
    rng = np.random.default_rng(20261203)
    X_train, y_train, _, _ = load_digits(rng=rng)  # the test part is never looked at
    fit, val = stratified_split(y_train, 0.25, rng)
    X, y, X_val, y_val = X_train[fit], y_train[fit], X_train[val], y_train[val]
    print(f"digits: {len(y)} training, {len(y_val)} validation images; TwoLayerNet 64-{HIDDEN}-10, "
          f"full-batch gradient descent, lr {LR}, {STEPS} steps, seeds {SEEDS}")
    flush_report(X, y)
    for mode in ("float32", "float16", "float16+scaler", "float16+scaler+master"):
        started = time.perf_counter()
        runs = [train(X, y, X_val, y_val, seed, mode) for seed in SEEDS]
        accuracy = np.array([r["accuracy"] for r in runs])
        loss = np.array([r["loss"] for r in runs])
        line = (f"{mode:22s} val accuracy {accuracy.mean():.4f} (min {accuracy.min():.4f}, max {accuracy.max():.4f})"
                f"  train loss {loss.mean():.4f} (min {loss.min():.4f}, max {loss.max():.4f})")
        if mode != "float32":
            first = np.mean([r["flushed"][0] for r in runs])
            last = np.mean([r["flushed"][1] for r in runs])
            lost = np.mean([r["lost"][0] for r in runs])
            line += f"  flushed W1 grads: first step {first:.3f}, last {last:.3f}; lost W1 updates (last) {lost:.3f}"
        if "scaler" in mode:
            line += f"  skipped steps {[r['skipped'] for r in runs]}, final scale {[r['scale'] for r in runs]}"
        print(line + f"  [{time.perf_counter() - started:.1f} s]", flush=True)


if __name__ == "__main__":
    sys.exit(main())
