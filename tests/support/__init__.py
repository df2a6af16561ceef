"""Test harnesses that stand in for infrastructure CI cannot install."""
