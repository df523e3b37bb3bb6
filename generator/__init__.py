"""Gongshi (公示): a static-site generator for village transparency portals."""

__version__ = "0.1.0"
