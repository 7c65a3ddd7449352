"""Engine-side code: NLU components and text tools (nlu/), the city's knowledge (knowledge/)."""
