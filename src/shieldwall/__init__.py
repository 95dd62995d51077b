"""shieldwall: the software of a cooperative cyber defence centre."""

__version__ = "0.1.0"
