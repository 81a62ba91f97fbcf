"""Work in the field: the road network and routes, patrol plans of the stations, stops visited."""
