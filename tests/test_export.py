"""Exported script and notebook, run in a subprocess, against the page's forward pass.

Expected numbers come from `mlp.run_forward` on the network and input the page uses.
Each subprocess imports torch, so the specs share one batch run to keep this file
near 10 s on 2 cores.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import safetensors.torch
import torch

from mlp import MLPSpec, build_model, default_input, run_forward
from mlp.export import (
    EMBED_MAX_PARAMS,
    WEIGHTS_FILE_NAME,
    export_notebook,
    export_script,
    input_code,
)
from mlp.files import csv_zip, state_dict_pt, state_dict_safetensors, tensor_csv
from mlp.values import format_value

SUBPROCESS_TIMEOUT_S = 120
MARKER = "=== run "
NUMBER = re.compile(r"-?\d+\.\d*(?:e[+-]?\d+)?")

# Specs beyond the defaults: no hidden layer without bias, GELU, and a wide input.
OTHER_SPECS = {
    "logistic_no_bias": MLPSpec(hidden_widths=(), bias=False, seed=7),
    "gelu": MLPSpec(in_features=3, hidden_widths=(6, 5, 4), activation="gelu", seed=3),
    "wide_tanh_10_classes": MLPSpec(
        in_features=20, hidden_widths=(12,), out_features=10, activation="tanh", seed=0
    ),
}


def edited_input(in_features: int) -> tuple[float, ...]:
    """An input as typed values: decimals that are not float32 numbers, a tiny and a large one."""
    typed = [0.1, -2.5, 1e-7, 123456.789, -0.3333]
    return tuple(typed[i % len(typed)] * (1 + i / 10) for i in range(in_features))


def page_tensor(x_values: tuple[float, ...]) -> torch.Tensor:
    """The input tensor exactly as the input editor builds it."""
    return torch.tensor([x_values], dtype=torch.float32)  # (1, in_features)


def page_numbers(model: torch.nn.Module, x_values: tuple[float, ...]) -> dict:
    """Logits and softmax as the page prints them, 4 decimals."""
    result = run_forward(model, page_tensor(x_values))
    return {
        "logits": [format_value(v) for v in result.logits[0].tolist()],
        "softmax": [format_value(p) for p in result.probs[0].tolist()],
    }


def printed_numbers(output: str) -> dict:
    """Parse `logits: tensor(...)` and `softmax: tensor(...)` from the script's output."""
    logits_text = output.split("logits:", 1)[1].split("softmax:", 1)[0]
    softmax_text = output.split("softmax:", 1)[1]
    return {
        "logits": [format_value(float(v)) for v in NUMBER.findall(logits_text)],
        "softmax": [format_value(float(v)) for v in NUMBER.findall(softmax_text)],
    }


def notebook_source(notebook_text: str) -> str:
    notebook = nbformat.reads(notebook_text, as_version=4)
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def run_python(args: list[str], cwd: Path) -> str:
    completed = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_default_script_prints_page_softmax(tmp_path):
    spec = MLPSpec()
    x_values = tuple(default_input(5, 42)[0].tolist())
    path = tmp_path / "mlp_explorer.py"
    path.write_text(export_script(spec, x_values))

    output = run_python([str(path)], tmp_path)

    printed = printed_numbers(output)
    assert printed["logits"] == ["0.3806", "0.3704"]
    assert printed["softmax"] == ["0.5025", "0.4975"]
    assert printed == page_numbers(build_model(spec), x_values)
    assert "(0): Linear(in_features=5, out_features=8, bias=True)" in output


@pytest.fixture(scope="module")
def batch_cases(tmp_path_factory) -> dict[str, tuple[str, dict]]:
    """Write scripts and notebooks for several networks, run them in one subprocess.

    Returns, per case name, the case's printed output and the page's numbers.
    """
    folder = tmp_path_factory.mktemp("exports")
    cases: dict[str, tuple[str, dict]] = {}
    for name, spec in OTHER_SPECS.items():
        x_values = edited_input(spec.in_features)
        expected = page_numbers(build_model(spec), x_values)
        (folder / f"{name}.py").write_text(export_script(spec, x_values))
        notebook = export_notebook(spec, x_values)
        (folder / f"{name}_notebook.py").write_text(notebook_source(notebook))
        cases[name] = ("", expected)
        cases[f"{name}_notebook"] = ("", expected)
    add_weight_cases(folder, cases)

    runner = folder / "run_all.py"
    runner.write_text(
        "import runpy, sys\n"
        "for name in sys.argv[1:]:\n"
        f"    print({MARKER!r} + name, flush=True)\n"
        "    runpy.run_path(name + '.py', run_name='__main__')\n"
    )
    output = run_python([str(runner), *cases], folder)
    for chunk in output.split(MARKER)[1:]:
        name, _, printed = chunk.partition("\n")
        cases[name] = (printed, cases[name][1])
    return cases


def add_weight_cases(folder: Path, cases: dict[str, tuple[str, dict]]) -> None:
    """Cases whose weights no seed gives: written out, and read from the .pt file."""
    small_spec = MLPSpec(in_features=4, hidden_widths=(3,), out_features=3, seed=5)
    small = build_model(small_spec)
    with torch.no_grad():
        for param in small.parameters():
            param.mul_(-1.5).add_(0.01)  # no seed gives these
    x_values = edited_input(4)
    weights = small.state_dict()
    (folder / "embedded.py").write_text(
        export_script(small_spec, x_values, weights, "the uploaded file a.pt")
    )
    cases["embedded"] = ("", page_numbers(small, x_values))

    large_spec = MLPSpec(in_features=200, hidden_widths=(64,), out_features=4, seed=9)
    large = build_model(large_spec)
    with torch.no_grad():
        large.layers[0].weight.mul_(2.0)
    assert sum(p.numel() for p in large.parameters()) > EMBED_MAX_PARAMS
    (folder / WEIGHTS_FILE_NAME).write_bytes(state_dict_pt(large))
    x_values = edited_input(200)
    (folder / "from_file.py").write_text(
        export_script(
            large_spec, x_values, large.state_dict(), "the uploaded file b.pt"
        )
    )
    cases["from_file"] = ("", page_numbers(large, x_values))


@pytest.mark.parametrize(
    "name",
    [
        *OTHER_SPECS,
        *(f"{name}_notebook" for name in OTHER_SPECS),
        "embedded",
        "from_file",
    ],
)
def test_exported_code_prints_page_numbers(batch_cases, name):
    printed, expected = batch_cases[name]
    assert "softmax:" in printed, f"{name} printed no softmax:\n{printed}"
    assert printed_numbers(printed) == expected


def test_input_literal_is_bit_exact():
    values = (
        *default_input(16, 1234)[0].tolist(),
        0.1,
        -0.0,
        1e-45,  # rounds to the smallest float32 subnormal
        2.0**-149,
        999999.99,
        -123.456789,
        1 / 3,
    )
    namespace: dict = {"torch": torch}
    exec(input_code(values), namespace)
    expected = page_tensor(values)
    assert namespace["x"].dtype == torch.float32
    assert namespace["x"].shape == expected.shape
    assert torch.equal(namespace["x"].view(torch.int32), expected.view(torch.int32))


def test_embedded_weights_are_bit_exact():
    spec = MLPSpec(in_features=3, hidden_widths=(2,), out_features=2, seed=11)
    model = build_model(spec)
    with torch.no_grad():
        model.layers[0].weight[0, 0] = -0.0
        model.layers[0].bias[1] = 1e-40  # a float32 subnormal
    script = export_script(spec, (1.0, 2.0, 3.0), model.state_dict(), "x")
    literal = script.split("state_dict = ", 1)[1].split("\nmodel.load_state_dict", 1)[0]
    loaded = eval(literal, {"torch": torch})
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded[key].view(torch.int32), tensor.view(torch.int32)), key


def test_script_names_torch_version_and_seed():
    script = export_script(MLPSpec(seed=123), (0.0,) * 5)
    words = " ".join(script.split())  # the docstring is wrapped
    assert f"torch {torch.__version__}" in words
    assert "does not promise the same random numbers" in words
    assert "torch.manual_seed(123)" in script
    assert "self.layers = torch.nn.Sequential(" in script
    assert "with torch.no_grad():" in script
    assert "torch.softmax(logits, dim=1)" in script


def test_script_layers_written_out():
    spec = MLPSpec(in_features=2, hidden_widths=(3,), activation="sigmoid", bias=False)
    script = export_script(spec, (0.0, 0.0))
    assert "torch.nn.Linear(2, 3, bias=False),\n" in script
    assert "torch.nn.Sigmoid(),\n" in script
    assert "torch.nn.Linear(3, 2, bias=False),\n" in script
    assert script.count("torch.nn.Sigmoid()") == 1


def test_uploaded_script_says_weights_not_seeded():
    spec = MLPSpec(in_features=2, hidden_widths=(), seed=8)
    model = build_model(spec)
    script = export_script(
        spec, (0.0, 1.0), model.state_dict(), "the uploaded file m.pt"
    )
    assert "torch.manual_seed" not in script
    assert "not from a seed" in script
    assert "m.pt" in script


def test_hostile_file_name_stays_in_docstring():
    spec = MLPSpec(in_features=2, hidden_widths=())
    model = build_model(spec)
    name = 'x"""\nimport os; os.system("echo hacked") # \\'
    script = export_script(spec, (0.0, 1.0), model.state_dict(), name)
    tree = ast.parse(script)
    docstring = ast.get_docstring(tree)
    assert docstring is not None
    assert "x____import os_ os.system(_echo hacked_) _ _" in " ".join(docstring.split())
    imports = [node for node in tree.body if isinstance(node, ast.Import)]
    assert [alias.name for node in imports for alias in node.names] == ["torch"]


def test_notebook_is_valid_v4():
    spec = MLPSpec()
    notebook = nbformat.reads(export_notebook(spec, (0.5,) * 5), as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert code[0].startswith("import torch")
    assert any("torch.manual_seed(42)" in source for source in code)
    assert torch.__version__ in notebook.cells[0].source


def test_state_dict_pt_round_trip():
    model = build_model(MLPSpec(seed=4))
    loaded = torch.load(io.BytesIO(state_dict_pt(model)), weights_only=True)
    assert list(loaded) == list(model.state_dict())
    assert list(loaded)[0] == "layers.0.weight"
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded[key], tensor), key


def test_state_dict_safetensors_round_trip():
    model = build_model(MLPSpec(seed=4, bias=False))
    loaded = safetensors.torch.load(state_dict_safetensors(model))
    assert sorted(loaded) == ["layers.0.weight", "layers.2.weight", "layers.4.weight"]
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded[key], tensor), key


def test_weight_csv_layout_and_values():
    weight = build_model(MLPSpec()).layers[0].weight  # (8, 5)
    frame = pd.read_csv(io.StringIO(tensor_csv(weight)), index_col=0)
    assert frame.shape == (8, 5)
    assert list(frame.columns) == [f"in_{j}" for j in range(5)]
    assert frame.index.name == "out_index"
    parsed = torch.tensor(frame.to_numpy(), dtype=torch.float32)
    assert torch.equal(parsed, weight.detach())


def test_bias_csv_is_one_column():
    bias = build_model(MLPSpec()).layers[0].bias  # (8,)
    frame = pd.read_csv(io.StringIO(tensor_csv(bias)), index_col=0)
    assert list(frame.columns) == ["bias"]
    assert frame.shape == (8, 1)
    assert torch.equal(
        torch.tensor(frame["bias"].to_numpy(), dtype=torch.float32), bias.detach()
    )


def test_csv_zip_has_every_tensor():
    model = build_model(MLPSpec())
    with zipfile.ZipFile(io.BytesIO(csv_zip(model))) as archive:
        names = archive.namelist()
    assert names == [f"{key}.csv" for key in model.state_dict()]
