"""Turns: who speaks when. The turn-taking mediator and the end-of-turn detector."""
