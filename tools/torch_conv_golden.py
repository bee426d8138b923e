"""Write tests/golden/torch_conv.json: ``torch.nn.functional.conv2d``'s values and gradients, in float64.

The oracle for ``lossbook.conv``: each case draws an input, a weight, a bias and an upstream gradient
``grad_output`` from a seeded NumPy generator, runs PyTorch's ``conv2d`` with a stride and a padding,
and records, in lossbook's layout (images channels last, ``(N, H, W, C)``; weights ``(k, k, C_in,
C_out)``):

* ``x``, ``weight``, ``bias``, ``stride``, ``padding`` and ``grad_output``;
* ``value``: PyTorch's output, transposed from its ``(N, C_out, H_out, W_out)`` to channels last;
* ``grad_x``, ``grad_weight`` and ``grad_bias``: PyTorch's autograd gradients of
  ``(output * grad_output).sum()``, a generic linear function of the output, which is what
  ``lossbook.conv.conv2d_backward(grad_output, cache)`` returns;
* ``torch``, the PyTorch call.

The cases cover stride 1 and 2, padding 0 and 1, kernels of 1, 2 and 3, odd and non-square images,
and a stride that leaves the last row and column of the image out of every patch. Arrays are written with
``tools/torch_golden.py``'s encoding; float64 values are written in full (``repr``), so they read back
exactly.

PyTorch is NOT a dependency of the course. Run this script in a separate virtual environment, from the
repository root::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy==2.4.6
    /tmp/torchvenv/bin/python tools/torch_conv_golden.py

The output is deterministic: fixed seed, one thread, deterministic algorithms, sorted keys. Running it
twice with the same PyTorch gives the same bytes. tests/test_conv.py checks ``lossbook.conv`` against it.
"""

import platform
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from torch_golden import dumps, encode_array  # noqa: E402  (one JSON encoding for every golden file)

SEED = 20261203
OUTPUT = Path("tests/golden/torch_conv.json")
COMMAND = "/tmp/torchvenv/bin/python tools/torch_conv_golden.py"

CASES = [  # (id, N, H, W, C_in, C_out, k, stride, padding)
    ("k3-s1-p0", 2, 5, 5, 3, 4, 3, 1, 0),
    ("k3-s1-p1", 2, 7, 5, 2, 3, 3, 1, 1),
    ("k3-s2-p1", 2, 7, 9, 3, 2, 3, 2, 1),
    ("k3-s2-p0-unused-edge", 1, 8, 6, 2, 3, 3, 2, 0),  # the last row and column lie in no patch: zero gradient
    ("k3-s2-p0", 3, 9, 7, 1, 2, 3, 2, 0),
    ("k2-s2-p0", 2, 6, 7, 3, 2, 2, 2, 0),
    ("k1-s1-p0", 2, 3, 5, 4, 3, 1, 1, 0),
    ("k1-s2-p1", 1, 5, 5, 2, 2, 1, 2, 1),  # a 1 x 1 kernel on padding: border outputs are the bias
]


def conv_case(rng, case_id, n, height, width, c_in, c_out, k, stride, padding):
    """Run one case in PyTorch and return its record, every array in lossbook's layout."""
    x = rng.normal(size=(n, height, width, c_in))
    weight = rng.normal(size=(k, k, c_in, c_out))
    bias = rng.normal(size=c_out)
    x_t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)  # NHWC -> NCHW
    weight_t = torch.from_numpy(weight.transpose(3, 2, 0, 1).copy()).requires_grad_(True)  # -> (C_out, C_in, k, k)
    bias_t = torch.from_numpy(bias.copy()).requires_grad_(True)
    out = F.conv2d(x_t, weight_t, bias_t, stride=stride, padding=padding)
    value = out.detach().numpy().transpose(0, 2, 3, 1)  # NCHW -> NHWC
    grad_output = rng.normal(size=value.shape)
    loss = (out * torch.from_numpy(grad_output.transpose(0, 3, 1, 2).copy())).sum()
    grad_x, grad_weight, grad_bias = torch.autograd.grad(loss, (x_t, weight_t, bias_t))
    return {
        "id": case_id,
        "x": encode_array(x),
        "weight": encode_array(weight),
        "bias": encode_array(bias),
        "stride": stride,
        "padding": padding,
        "grad_output": encode_array(grad_output),
        "value": encode_array(value),
        "grad_x": encode_array(grad_x.numpy().transpose(0, 2, 3, 1)),
        "grad_weight": encode_array(grad_weight.numpy().transpose(2, 3, 1, 0)),
        "grad_bias": encode_array(grad_bias.numpy()),
        "torch": (f"out = F.conv2d(x, weight, bias, stride={stride}, padding={padding}); "
                  "torch.autograd.grad((out * grad_output).sum(), (x, weight, bias))"),
    }


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    document = {
        "command": COMMAND,
        "seed": SEED,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
        "description": ("torch.nn.functional.conv2d's value and autograd gradients (input, weight, bias) of "
                        "(output * grad_output).sum(), float64, in lossbook's channels-last layout; generated "
                        "by tools/torch_conv_golden.py, checked by tests/test_conv.py."),
        "cases": [conv_case(rng, *case) for case in CASES],
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(document) + "\n"
    OUTPUT.write_text(text)
    print(f"wrote {len(CASES)} cases to {OUTPUT} ({len(text) / 1e3:.0f} kB)", file=sys.stderr)


if __name__ == "__main__":
    main()
