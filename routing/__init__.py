"""Road network, shortest paths and patrol routes (built from data/boundaries/roads.geojson).

Empty for now: the routing issue fills it. The roads are already loaded into PostGIS (`roads`).
"""
