"""Climate: emission factors (data with sources), the GPC community inventory, renewable share and
pathways to 2041 / 2050. See docs in :mod:`nagar.climate.inventory` and :mod:`nagar.climate.factors`."""
