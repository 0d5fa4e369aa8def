"""Sphinx configuration of the API reference: every page is generated from the docstrings
(``autodoc``) of the installed package. CI builds it with ``-W`` (a warning fails the build)."""
import mprog

project = "mprog"
author = "the mprog developers"
copyright = "the mprog developers"
release = version = mprog.__version__

extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
# The core's classes live in the private module mprog._core; document them as mprog's.
autodoc_typehints = "signature"
html_theme = "alabaster"
html_static_path: list = []
exclude_patterns = ["_build"]
