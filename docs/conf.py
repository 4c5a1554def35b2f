"""Sphinx configuration of synthadmin's documentation site (MyST Markdown, built with -W)."""

project = "synthadmin"
author = "synthadmin"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# `[text](page.md#a-heading)` resolves to that heading, as on GitHub.
myst_heading_anchors = 4

# Sphinx's built-in theme: no web fonts, no CDN, the pages read offline.
html_theme = "alabaster"
html_title = "synthadmin"
html_theme_options = {
    "description": "Synthetic test patients for a Supabase database",
    "page_width": "1200px",
}
html_show_sourcelink = False
