"""The project's tests and benchmarks, importable from the top directory
as the package `t` (see t/README.md)."""
