"""Recognition: speech to text, plus captions of non-speech audio and speaker identity."""
