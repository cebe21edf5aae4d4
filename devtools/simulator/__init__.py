"""A realistic synthetic event stream for the catalogue's services, published like sources do."""
