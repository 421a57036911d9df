"""Nagar: an open platform for cleaner, lower-carbon cities."""

__version__ = "0.1.0"
