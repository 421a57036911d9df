"""Platform kernel: settings, errors, ids, units and time. Imports nothing else of Nagar's."""
