"""The Streamlit script through AppTest: golden page, slider, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    return app


def metric_values(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_default_page_golden_numbers(at):
    metrics = metric_values(at)
    assert metrics["Parameters"] == "94"
    assert metrics["logits"] == "0.3806 / 0.3704"
    assert metrics["softmax"] == "0.5025 / 0.4975"
    assert [at.text_input(key=f"x_{i}").value for i in range(5)] == [
        "0.3367",
        "0.1288",
        "0.2345",
        "0.2303",
        "-1.1229",
    ]
    code = at.code[0].value
    assert "(0): Linear(in_features=5, out_features=8, bias=True)" in code


def test_width_slider_changes_total(at):
    at.slider(key="width_0").set_value(10).run()
    assert not at.exception
    # 10 x 5 + 10, then 4 x 10 + 4, then 2 x 4 + 2
    assert metric_values(at)["Parameters"] == str(60 + 44 + 10)


def test_hidden_layer_count_changes_total(at):
    at.slider(key="n_hidden").set_value(0).run()
    assert not at.exception
    assert metric_values(at)["Parameters"] == str(2 * 5 + 2)


def test_non_number_input_shows_message(at):
    at.text_input(key="x_2").input("abc").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    assert "x[2]" in warnings[0]
    assert "abc" in warnings[0]
    assert metric_values(at)["softmax"] == "0.5025 / 0.4975"

    at.text_input(key="x_2").input("1.5").run()
    assert not at.exception
    assert not at.warning
    assert metric_values(at)["softmax"] != "0.5025 / 0.4975"


def test_mnist_preset(at):
    at.selectbox(key="preset").set_value("MNIST-sized 784-16-16-10").run()
    assert not at.exception
    assert metric_values(at)["Parameters"] == "13,002"
    assert at.text_area(key="x_all").value.count(",") == 783


def test_reset_restores_seeded_input(at):
    at.text_input(key="x_0").input("3").run()
    assert metric_values(at)["softmax"] != "0.5025 / 0.4975"
    at.button[1].click().run()
    assert metric_values(at)["softmax"] == "0.5025 / 0.4975"


def test_input_fields_limit_typed_length(at):
    # A pasted megabyte would exceed the websocket message limit and drop the
    # connection without a message, so the browser caps what can be typed.
    assert at.text_input(key="x_0").max_chars == 64
    at.number_input(key="in_features").set_value(20).run()
    assert not at.exception
    assert at.text_area(key="x_all").max_chars == 40 * 20
