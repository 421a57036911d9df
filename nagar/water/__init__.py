"""Water quality: sampling stations, lab samples, objective sets per water use, the CCME WQI 1.0."""
