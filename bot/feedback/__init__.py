"""Free feedback, suggestions and ratings given outside a case, kept for the service team."""
