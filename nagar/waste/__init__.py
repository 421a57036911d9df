"""E-waste: the UNU sales-lifespan generation model (:mod:`nagar.waste.unu`), collection points, handlers,
collection events, the chain of custody and the formal collection rate (:mod:`nagar.waste.service`)."""
