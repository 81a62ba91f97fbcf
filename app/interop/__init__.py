"""Speaking the standards other systems use, over the other packages' data: OGC API - Features,
Open311 GeoReport v2, file exports (GeoPackage, Shapefile, GeoJSON, CSV, GPX), the OpenAPI
document, Prometheus metrics and the health check."""
