"""Funds and instruments, candidate projects, the portfolio optimiser and MRV of funded projects."""
