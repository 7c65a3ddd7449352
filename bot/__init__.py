"""Engine-side code: the Japanese NLU components for Rasa and helpers shared with the actions."""
