"""Tests of nagar.security."""
