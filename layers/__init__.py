"""Map layers: data in, GeoJSON and folium maps out."""
