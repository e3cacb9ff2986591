"""Sphinx configuration of the course website (built by ``make book`` = scripts/build_book.py).

The sources are staged by scripts/build_book.py into ``_build/src`` with the repository's own
layout (``notebooks/``, ``exercises/``, ``solutions/``, ``docs/``), so every relative link in a
notebook works on the site and every launch button points at the same path in the repository.
Notebooks are rendered from their committed outputs, never executed here.

Settings from the environment (the Pages workflow fills the first two):
    MMCOURSE_REPOSITORY_URL  https URL of the repository (launch buttons, "repository" button)
    MMCOURSE_BRANCH          branch the launch buttons open (default: main)
    MMCOURSE_MATHJAX         "local" (MathJax copied into the site by build_book.py) or "cdn"
"""

import os
from urllib.parse import urlparse

project = "mmcourse"
author = "mmcourse developers"
copyright = "mmcourse developers, MIT licence"  # noqa: A001  (Sphinx's own setting name)

repository_url = os.environ.get("MMCOURSE_REPOSITORY_URL", "https://github.com/OWNER/mmcourse")
branch = os.environ.get("MMCOURSE_BRANCH", "main")
host = urlparse(repository_url).netloc.lower()

extensions = [
    "myst_nb",  # .ipynb and .md pages (MyST Markdown), notebooks rendered from stored outputs
    "sphinx.ext.autodoc",  # the API reference of mmcourse from its docstrings
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
nb_execution_mode = "off"  # lessons are committed executed; the site shows those outputs
nb_render_markdown_format = "myst"  # Markdown outputs (lesson 00's syllabus) link like pages
nb_output_stderr = "remove"  # TensorFlow/absl start-up chatter is not part of a lesson
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
# Widget state (lesson 05's slider) would load require.js and the widget manager from CDNs; a slider
# does nothing without a kernel, so the site shows the output stored next to it and stays offline.
nb_ipywidgets_js = {}
suppress_warnings = ["mystnb.unknown_mime_type"]  # widget state (sliders) has no static view
# nitpicky stays off: without intersphinx (the build is offline) every NumPy/Keras type named in
# a signature would be an unresolved reference. Broken links between pages still fail the build
# (-W), and scripts/build_book.py checks every internal href/src of the built HTML on top.

autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"

# MathJax: the site works offline when build_book.py copied MathJax into _static/mathjax.
if os.environ.get("MMCOURSE_MATHJAX", "cdn") == "local":
    mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_CHTML"
    # MyST marks the page body tex2jax_ignore and each formula class "math": process only those.
    mathjax2_config = {
        "tex2jax": {"processClass": "math|output_area", "processEscapes": True,
                    "ignoreClass": "tex2jax_ignore|mathjax_ignore|document"},
        "showMathMenu": False,
        "messageStyle": "none",  # no "Loading [MathJax]…" box in the corner
    }

html_theme = "sphinx_book_theme"
html_title = "mmcourse — multimodal learning, hands-on"
html_copy_source = True  # the download button serves the .ipynb from _sources/
html_sourcelink_suffix = ""
html_last_updated_fmt = None
launch_buttons = {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"}
if host == "github.com":  # Colab opens notebooks from GitHub only
    launch_buttons["colab_url"] = "https://colab.research.google.com"
html_theme_options = {
    "repository_url": repository_url,
    "repository_branch": branch,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "launch_buttons": launch_buttons,
    "show_navbar_depth": 1,
    "show_prev_next": True,
    "search_bar_text": "Search the course…",
}


def setup(app):
    # Lesson titles in the sidebar hold formulas: load MathJax on every page, not only on those
    # whose body has math.
    app.set_html_assets_policy("always")
