"""Third-party private attributes netpoll relies on, one small module per library.

Each module names the private attribute, says why netpoll uses it and which version it was checked against;
``tests/unit/compat/`` holds a contract test per module that fails when a new release moves it, and
pyproject.toml pins each library to the minor version those tests pass with.
"""
