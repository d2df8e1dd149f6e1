"""Language understanding: pure text rules (patterns) and the Rasa components that use them."""
