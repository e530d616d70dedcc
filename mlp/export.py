"""Plain PyTorch code that rebuilds the network on the page: a script and a notebook.

A seeded network is rebuilt with `torch.manual_seed(seed)` and the same modules, so the
script depends only on torch. Weights that no seed reproduces (an uploaded file) are
written out as tensor literals when the network has at most `EMBED_MAX_PARAMS`
parameters, and read from the downloaded `.pt` file otherwise.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import nbformat
import torch

from mlp.files import exact_float
from mlp.spec import ACTIVATIONS, MLPSpec

SCRIPT_FILE_NAME = "mlp_explorer.py"
NOTEBOOK_FILE_NAME = "mlp_explorer.ipynb"
WEIGHTS_FILE_NAME = "mlp_state_dict.pt"
# Above this many parameters the literals would make a script of hundreds of kilobytes.
EMBED_MAX_PARAMS = 10_000
VALUES_PER_LINE = 3
INDENT = "    "
WRAP_WIDTH = 88


@dataclass(frozen=True)
class Section:
    """One step of the code: a comment in the script, a heading cell in the notebook."""

    heading: str
    code: str


def export_script(
    spec: MLPSpec,
    x_values: Sequence[float],
    weights: Mapping[str, torch.Tensor] | None = None,
    source: str | None = None,
) -> str:
    """Write a self-contained script that prints the page's logits and softmax.

    `weights` (a state_dict with keys such as layers.0.weight) replaces the seeded
    weights. `source` names where they came from, such as "the uploaded file model.pt";
    the script's docstring quotes it with quotes and line breaks replaced.
    """
    parts = [f'"""{header_text(spec, weights, source)}\n"""']
    for section in export_sections(spec, x_values, weights):
        parts.append(f"# {section.heading}\n{section.code}")
    return "\n\n\n".join(parts) + "\n"


def export_notebook(
    spec: MLPSpec,
    x_values: Sequence[float],
    weights: Mapping[str, torch.Tensor] | None = None,
    source: str | None = None,
) -> str:
    """Write the script's steps as a Jupyter notebook (nbformat 4), one code cell each."""
    v4 = nbformat.v4
    cells = [v4.new_markdown_cell(header_text(spec, weights, source, notebook=True))]
    for section in export_sections(spec, x_values, weights):
        cells.append(v4.new_markdown_cell(f"## {section.heading}"))
        cells.append(v4.new_code_cell(section.code))
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
    )
    return nbformat.writes(notebook)


def header_text(
    spec: MLPSpec,
    weights: Mapping[str, torch.Tensor] | None,
    source: str | None,
    notebook: bool = False,
) -> str:
    """Describe what the code rebuilds, where its weights come from and the torch version."""
    sizes = "-".join(str(size) for size in spec.layer_sizes)
    title = (
        f"MLP Explorer network {sizes}: {ACTIVATIONS[spec.activation]} between the "
        f"Linear layers, bias={spec.bias}"
    )
    run = "Run every cell" if notebook else f"Run it with `python {SCRIPT_FILE_NAME}`"
    lines = [
        f"# {title}" if notebook else title,
        "",
        f"{run}; it prints the logits and the softmax that the page shows for this input.",
        "",
    ]
    if weights is None:
        lines += [
            f"The weights are the ones torch.manual_seed({spec.seed}) gives. The page "
            f"computed them with torch {torch.__version__}. PyTorch does not promise the "
            "same random numbers across releases or platforms, so with another torch "
            "version the weights, and the printed numbers, can differ.",
        ]
    else:
        origin = safe_name(source) if source else "the page"
        where = (
            "are written out below"
            if embeds_weights(weights)
            else f"are read from {WEIGHTS_FILE_NAME}: download it from the page and "
            "save it next to this code"
        )
        lines += [
            f"The weights come from {origin}, not from a seed, so they {where}. "
            f"The page computed its numbers with torch {torch.__version__}.",
        ]
    # Wrapped for a script; Markdown joins the lines of a paragraph again.
    return "\n".join(textwrap.fill(line, WRAP_WIDTH) for line in lines)


def safe_name(text: str) -> str:
    """Replace each character that could end a docstring, a comment or a Markdown element
    with `_`, and cut `text` to 120 characters."""
    return re.sub(r"[^\w.,()\- ]", "_", text)[:120]


def embeds_weights(weights: Mapping[str, torch.Tensor]) -> bool:
    return sum(tensor.numel() for tensor in weights.values()) <= EMBED_MAX_PARAMS


def export_sections(
    spec: MLPSpec,
    x_values: Sequence[float],
    weights: Mapping[str, torch.Tensor] | None,
) -> list[Section]:
    """Return the steps shared by the script and the notebook, in order."""
    return [
        Section("Imports", 'import torch\n\nprint("torch", torch.__version__)'),
        Section(
            "The network: Linear layers with an activation between them",
            module_code(spec),
        ),
        Section("Weights", weights_code(spec, weights)),
        Section(
            "Input: one row vector of shape (1, in_features)", input_code(x_values)
        ),
        Section("Forward pass", forward_code(spec)),
    ]


def module_code(spec: MLPSpec) -> str:
    """Write the module class with its Sequential spelled out layer by layer."""
    activation = ACTIVATIONS[spec.activation]
    bias = "" if spec.bias else ", bias=False"
    modules: list[str] = []
    for linear_idx, (in_features, out_features) in enumerate(spec.linear_shapes()):
        modules.append(f"torch.nn.Linear({in_features}, {out_features}{bias}),")
        if linear_idx < spec.num_linear - 1:
            modules.append(f"torch.nn.{activation}(),")
    body = "\n".join(3 * INDENT + line for line in modules)
    return (
        "class MLP(torch.nn.Module):\n"
        f"{INDENT}def __init__(self):\n"
        f"{2 * INDENT}super().__init__()\n"
        f"{2 * INDENT}self.layers = torch.nn.Sequential(\n"
        f"{body}\n"
        f"{2 * INDENT})\n"
        "\n"
        f"{INDENT}def forward(self, x):\n"
        f"{2 * INDENT}return self.layers(x)  # logits"
    )


def weights_code(spec: MLPSpec, weights: Mapping[str, torch.Tensor] | None) -> str:
    """Seed and construct the model, then load the given weights if there are any."""
    if weights is None:
        return (
            f"torch.manual_seed({spec.seed})  # fixes the initial weights\n"
            "model = MLP()\n"
            "model.eval()\n"
            "print(model)"
        )
    if embeds_weights(weights):
        load = f"state_dict = {state_dict_literal(weights)}\nmodel.load_state_dict(state_dict)"
    else:
        load = (
            f'state_dict = torch.load("{WEIGHTS_FILE_NAME}", weights_only=True)\n'
            "model.load_state_dict(state_dict)"
        )
    return f"model = MLP()\n{load}\nmodel.eval()\nprint(model)"


def input_code(x_values: Sequence[float]) -> str:
    """Write the input as a float32 literal whose values are exactly the page's tensor."""
    # Rounding to float32 first makes the literal show the tensor's own values.
    exact = torch.tensor(list(x_values), dtype=torch.float32).tolist()
    return (
        "x = torch.tensor(\n"
        f"{INDENT}{nested_literal([exact], INDENT)},\n"
        f"{INDENT}dtype=torch.float32,\n"
        f")  # (1, {len(exact)})"
    )


def forward_code(spec: MLPSpec) -> str:
    return (
        "with torch.no_grad():\n"
        f"{INDENT}logits = model(x)  # (1, {spec.out_features})\n"
        f"{INDENT}probs = torch.softmax(logits, dim=1)  # each row sums to 1\n"
        "\n"
        "torch.set_printoptions(precision=4, sci_mode=False)\n"
        'print("logits:", logits)\n'
        'print("softmax:", probs)'
    )


def float_lines(values: Sequence[float], indent: str) -> str:
    """Join exact literals of `values`, `VALUES_PER_LINE` to a line."""
    lines = [
        ", ".join(exact_float(v) for v in values[start : start + VALUES_PER_LINE])
        for start in range(0, len(values), VALUES_PER_LINE)
    ]
    return f",\n{indent}".join(lines)


def nested_literal(values: list, indent: str) -> str:
    """Write `values` (floats or lists of floats) as a nested list literal, one level per line."""
    inner = indent + INDENT
    if len(values) <= VALUES_PER_LINE and not isinstance(values[0], list):
        return f"[{float_lines(values, inner)}]"
    if isinstance(values[0], list):
        rows = "".join(f"{inner}{nested_literal(row, inner)},\n" for row in values)
        return f"[\n{rows}{indent}]"
    return f"[\n{inner}{float_lines(values, inner)},\n{indent}]"


def state_dict_literal(weights: Mapping[str, torch.Tensor]) -> str:
    """Write `weights` as a dict literal of float32 tensors, one entry per key."""
    entries = []
    for key, tensor in weights.items():
        values = tensor.detach().to(torch.float32)
        entries.append(
            f'{INDENT}"{key}": torch.tensor(  # {tuple(values.shape)}\n'
            f"{2 * INDENT}{nested_literal(values.tolist(), 2 * INDENT)},\n"
            f"{2 * INDENT}dtype=torch.float32,\n"
            f"{INDENT}),"
        )
    return "{\n" + "\n".join(entries) + "\n}"
