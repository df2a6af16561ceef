"""Yunying (运营): one self-hosted loop of measure → split → act → measure again."""

__version__ = "0.1.0"
