"""Dash component trees: page layouts and, later, the panel renderers of the big screens."""
