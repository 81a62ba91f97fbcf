"""Spatial logic with no Flask: CRS, validation, ownership index, geocoding, statistics."""
