"""Figures and the paper-claims table."""
