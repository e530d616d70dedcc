"""Classroom-scale benchmark of MLP Explorer: run it with `make bench`."""
