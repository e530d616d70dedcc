"""Baseline page for the benchmark: one slider and one line of text."""

import streamlit as st

value = st.slider("value", 0, 100, 50, key="value")
st.write(f"The slider is at {value}.")
