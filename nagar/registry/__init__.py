"""Registry of cities and their monitoring stations."""
