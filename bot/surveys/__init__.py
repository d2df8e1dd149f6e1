"""Post-service satisfaction callbacks (回访): when to ask, how to ask, what the answer means."""
